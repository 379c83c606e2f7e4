import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { MplexInvalidOptionError, MplexTooManyStreamsError } from '../../../src/p2p/muxer/errors'
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_MAX_STREAM_BUFFER_SIZE,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_STREAM_HIGH_WATER_MARK,
  MAX_FRAME_SIZE,
  MplexMuxer,
  type MplexMuxerOptions,
  type MplexStream,
} from '../../../src/p2p/muxer/index'
import { duplexPair, echo, readAll, waitFor, waitForError } from './helpers'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn()
})

function muxPair(dialerOpts: MplexMuxerOptions, listenerOpts: MplexMuxerOptions) {
  const [a, b] = duplexPair()
  cleanups.push(() => {
    a.destroy()
    b.destroy()
  })
  return { dialer: new MplexMuxer(a, dialerOpts), listener: new MplexMuxer(b, listenerOpts) }
}

async function echoOnce(stream: MplexStream, text: string): Promise<string> {
  stream.end(Buffer.from(text))
  return (await readAll(stream)).toString()
}

describe('mplex stream limits', () => {
  it('newStream past maxOutboundStreams throws ERR_MPLEX_TOO_MANY_STREAMS; a finished stream frees a slot', async () => {
    const { dialer } = muxPair({ maxOutboundStreams: 3 }, { onStream: echo })
    const open = [dialer.newStream(), dialer.newStream(), dialer.newStream()]
    let thrown: unknown
    try {
      dialer.newStream()
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(MplexTooManyStreamsError)
    expect((thrown as MplexTooManyStreamsError).code).toBe('ERR_MPLEX_TOO_MANY_STREAMS')
    expect(dialer.streams).toHaveLength(3)
    expect(await echoOnce(open[0]!, 'a')).toBe('a')
    expect(await echoOnce(dialer.newStream(), 'b')).toBe('b')
    for (const s of open) s.destroy()
  })

  it('an inbound stream past maxInboundStreams is reset while the connection and other streams go on', async () => {
    const accepted: MplexStream[] = []
    const arrivals = new EventEmitter()
    const { dialer, listener } = muxPair({}, {
      maxInboundStreams: 2,
      onStream: (s) => {
        accepted.push(s)
        s.on('error', () => {})
        arrivals.emit('stream', s)
      },
    })
    const s1 = dialer.newStream()
    const s2 = dialer.newStream()
    const s3 = dialer.newStream()
    expect((await waitForError(s3)).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(accepted.map((s) => s.id)).toEqual([0, 1])
    expect(listener.status).toBe('open')
    // The accepted streams still work both ways.
    accepted[0]!.pipe(accepted[0]!)
    expect(await echoOnce(s1, 'one')).toBe('one')
    // The listener sent its Close for s1 before we could read the end, so s1 is gone there and a new stream fits.
    expect(listener.streams).toHaveLength(1)
    const arrived = waitFor<[MplexStream]>(arrivals, 'stream')
    const s4 = dialer.newStream()
    const [fourth] = await arrived
    fourth.pipe(fourth)
    expect(await echoOnce(s4, 'four')).toBe('four')
    s2.destroy()
  })

  it('without a stream handler inbound streams are refused', async () => {
    const { dialer } = muxPair({}, {})
    expect((await waitForError(dialer.newStream())).code).toBe('ERR_MPLEX_STREAM_RESET')
  })

  it('a "stream" listener works as the handler', async () => {
    const { dialer, listener } = muxPair({}, {})
    listener.on('stream', echo)
    expect(await echoOnce(dialer.newStream(), 'via event')).toBe('via event')
  })

  it('close() aborts with ERR_TIMEOUT when the remote never closes within closeTimeoutMs', async () => {
    const [a, b] = duplexPair()
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    b.resume() // the remote reads everything but never ends its side
    const muxer = new MplexMuxer(a, { closeTimeoutMs: 200 })
    const stream = muxer.newStream()
    const streamErr = waitForError(stream)
    const closed = waitFor<[Error & { code?: string }]>(muxer, 'close')
    await muxer.close()
    expect((await closed)[0].code).toBe('ERR_TIMEOUT')
    // Our Close went out, but the remote never closed its half: the stream is cut with the timeout.
    expect((await streamErr).code).toBe('ERR_TIMEOUT')
    expect(a.destroyed).toBe(true)
  })

  it('documents its defaults', () => {
    expect(DEFAULT_MAX_INBOUND_STREAMS).toBe(1024)
    expect(DEFAULT_MAX_OUTBOUND_STREAMS).toBe(1024)
    expect(DEFAULT_STREAM_HIGH_WATER_MARK).toBe(128 * 1024)
    expect(DEFAULT_MAX_STREAM_BUFFER_SIZE).toBe(4 * 1024 * 1024)
    expect(DEFAULT_STALL_TIMEOUT_MS).toBe(10_000)
    expect(DEFAULT_CLOSE_TIMEOUT_MS).toBe(5_000)
    expect(MAX_FRAME_SIZE).toBe(1024 * 1024)
  })

  it('rejects out-of-range options with ERR_MPLEX_INVALID_OPTION', () => {
    const [a, b] = duplexPair()
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    const bad: MplexMuxerOptions[] = [
      { maxInboundStreams: -1 },
      { maxOutboundStreams: 1.5 },
      { streamHighWaterMark: 0 },
      { streamHighWaterMark: 1000, maxStreamBufferSize: 999 },
      { stallTimeoutMs: 0 },
      { closeTimeoutMs: Infinity },
      { maxFrameSize: 0 },
    ]
    for (const opts of bad) {
      expect(() => new MplexMuxer(a, opts)).toThrow(MplexInvalidOptionError)
    }
    expect(() => new MplexMuxer(a, { stallTimeoutMs: Infinity })).not.toThrow()
  })
})
