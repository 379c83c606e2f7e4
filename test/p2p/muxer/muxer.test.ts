import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { MplexMuxerClosedError } from '../../../src/p2p/muxer/errors'
import { encodeFrame, FrameDecoder, MplexFlag, type StreamId } from '../../../src/p2p/muxer/frame'
import { MplexMuxer, type MplexMuxerOptions, type MplexStream } from '../../../src/p2p/muxer/index'
import { deferred, duplexPair, echo, randomBytes, readAll, tcpPair, waitFor, waitForError, writeAll } from './helpers'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn()
})

function muxPair(dialerOpts: MplexMuxerOptions = {}, listenerOpts: MplexMuxerOptions = { onStream: echo }) {
  const [a, b] = duplexPair()
  const dialer = new MplexMuxer(a, dialerOpts)
  const listener = new MplexMuxer(b, listenerOpts)
  cleanups.push(() => {
    a.destroy()
    b.destroy()
  })
  return { a, b, dialer, listener }
}

/** Opens a stream, writes `data`, ends, and resolves with everything read back. */
async function roundTrip(muxer: MplexMuxer, data: Buffer): Promise<Buffer> {
  const stream = muxer.newStream()
  const [back] = await Promise.all([readAll(stream), writeAll(stream, data)])
  return back
}

describe('MplexMuxer over an in-memory pipe', () => {
  it('opens a stream, echoes bytes exactly, and forgets it once both sides closed', async () => {
    let inbound: MplexStream | undefined
    const { dialer, listener } = muxPair({}, {
      onStream: (s) => {
        inbound = s
        echo(s)
      },
    })
    const stream = dialer.newStream('hello')
    expect(stream.direction).toBe('outbound')
    expect(stream.id).toBe(0)
    expect(dialer.streams).toEqual([stream])
    const data = randomBytes(300_000)
    const [back] = await Promise.all([readAll(stream), writeAll(stream, data)])
    expect(back.equals(data)).toBe(true)
    expect(inbound?.direction).toBe('inbound')
    expect(inbound?.name).toBe('hello')
    expect(inbound?.id).toBe(0)
    expect(dialer.streams).toEqual([])
    expect(listener.streams).toEqual([])
  })

  it('supports half-close: the remote keeps writing after we ended', async () => {
    const { dialer } = muxPair({}, {
      onStream: (s) => {
        s.on('error', () => {})
        void readAll(s).then((req) => {
          // Our side ended before the response is written.
          s.write(Buffer.concat([Buffer.from('got:'), req]))
          s.end(Buffer.from(':bye'))
        })
      },
    })
    const stream = dialer.newStream()
    stream.end(Buffer.from('ping'))
    await waitFor(stream, 'finish')
    expect((await readAll(stream)).toString()).toBe('got:ping:bye')
  })

  it('reset by the dialer errors the remote stream with ERR_MPLEX_STREAM_RESET', async () => {
    const inbound = deferred<MplexStream>()
    const { dialer } = muxPair({}, { onStream: (s) => inbound.resolve(s) })
    const stream = dialer.newStream()
    stream.write(Buffer.from('x'))
    const remote = await inbound.promise
    const remoteErr = waitForError(remote)
    stream.reset()
    expect((await remoteErr).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(stream.destroyed).toBe(true)
    expect(dialer.streams).toEqual([])
  })

  it('reset by the listener errors our stream and fails our writes', async () => {
    const { dialer } = muxPair({}, { onStream: (s) => s.reset() })
    const stream = dialer.newStream()
    const err = await waitForError(stream)
    expect(err.code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(stream.destroyed).toBe(true)
  })

  it('runs 200 concurrent streams in both directions with byte-exact echoes', async () => {
    const { dialer, listener } = muxPair({ onStream: echo }, { onStream: echo })
    const jobs: Array<Promise<boolean>> = []
    for (let i = 0; i < 100; i++) {
      const data = randomBytes(1 + ((i * 7919) % 70_000), i + 1)
      jobs.push(roundTrip(dialer, data).then((b) => b.equals(data)))
      jobs.push(roundTrip(listener, data).then((b) => b.equals(data)))
    }
    expect((await Promise.all(jobs)).every(Boolean)).toBe(true)
    expect(dialer.streams).toEqual([])
    expect(listener.streams).toEqual([])
  })

  it('splits writes larger than maxFrameSize into frames the peer accepts', async () => {
    const { dialer } = muxPair({ maxFrameSize: 1000 }, { onStream: echo, maxFrameSize: 1000 })
    const data = randomBytes(50_000)
    expect((await roundTrip(dialer, data)).equals(data)).toBe(true)
  })

  it('close() half-closes every stream, ends the connection, and resolves', async () => {
    const { a, b, dialer, listener } = muxPair()
    const streams = [dialer.newStream(), dialer.newStream(), dialer.newStream()]
    const reads = streams.map((s) => readAll(s))
    for (const s of streams) s.write(Buffer.from('data'))
    const closedDialer = waitFor(dialer, 'close')
    const closedListener = waitFor(listener, 'close')
    await dialer.close()
    expect((await Promise.all(reads)).map((r) => r.toString())).toEqual(['data', 'data', 'data'])
    expect((await closedDialer)[0]).toBeUndefined()
    expect((await closedListener)[0]).toBeUndefined()
    expect(dialer.status).toBe('closed')
    expect(a.destroyed && b.destroyed).toBe(true)
    expect(() => dialer.newStream()).toThrow(MplexMuxerClosedError)
  })

  it('abort() destroys local streams with the error and the remote sees the connection close', async () => {
    const inbound = deferred<MplexStream>()
    const { a, dialer } = muxPair({}, { onStream: (s) => inbound.resolve(s) })
    const stream = dialer.newStream()
    stream.write(Buffer.from('x'))
    const remote = await inbound.promise
    const localErr = waitForError(stream)
    const remoteErr = waitForError(remote)
    const boom = new Error('boom')
    dialer.abort(boom)
    expect(await localErr).toBe(boom)
    expect((await remoteErr).code).toBe('ERR_MPLEX_CONNECTION_CLOSED')
    expect(a.destroyed).toBe(true)
    expect(() => dialer.newStream()).toThrow(MplexMuxerClosedError)
  })

  it('a remote EOF cuts streams the remote had not closed and keeps finished ones readable', async () => {
    const [a, b] = duplexPair()
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    const accepted = new Map<StreamId, MplexStream>()
    const muxer = new MplexMuxer(a, { onStream: (s) => accepted.set(s.id, s) })
    b.write(encodeFrame(5, MplexFlag.NewStream))
    b.write(encodeFrame(6, MplexFlag.NewStream))
    b.write(encodeFrame(6, MplexFlag.MessageInitiator, Buffer.from('keep')))
    b.write(encodeFrame(6, MplexFlag.CloseInitiator))
    while (accepted.size < 2) await waitFor(a, 'data')
    const cut = waitForError(accepted.get(5)!)
    const kept = readAll(accepted.get(6)!)
    b.end()
    expect((await cut).code).toBe('ERR_MPLEX_CONNECTION_CLOSED')
    expect((await kept).toString()).toBe('keep')
    expect(muxer.status).toBe('closing')
    expect(() => muxer.newStream()).toThrow(MplexMuxerClosedError)
  })
})

describe('MplexMuxer over TCP', () => {
  it('echoes 100 concurrent streams and closes both ends gracefully', async () => {
    const { client, server, close } = await tcpPair()
    cleanups.push(() => void close())
    const listener = new MplexMuxer(server, { onStream: echo })
    const dialer = new MplexMuxer(client)
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const data = randomBytes(64 * 1024 + i, i + 1)
        return roundTrip(dialer, data).then((b) => b.equals(data))
      }),
    )
    expect(results.every(Boolean)).toBe(true)
    const listenerClosed = waitFor<[Error | undefined]>(listener, 'close')
    await dialer.close()
    expect((await listenerClosed)[0]).toBeUndefined()
    expect(dialer.status).toBe('closed')
    expect(client.destroyed).toBe(true)
    // The listener's 'close' is emitted from its socket's 'close'.
    expect(server.destroyed).toBe(true)
  })
})

describe('MplexMuxer on the wire', () => {
  /** Our muxer on one end, raw frames on the other. */
  function rawPeer(opts: MplexMuxerOptions) {
    const [a, b] = duplexPair()
    const muxer = new MplexMuxer(a, opts)
    const received: Array<{ id: StreamId; flag: number; data?: Buffer }> = []
    const decoder = new FrameDecoder({
      onNewStream: (id, name) => received.push({ id, flag: 0, data: Buffer.from(name) }),
      onMessage: (id, init, data) => received.push({ id, flag: init ? 2 : 1, data: Buffer.from(data) }),
      onClose: (id, init) => received.push({ id, flag: init ? 4 : 3 }),
      onReset: (id, init) => received.push({ id, flag: init ? 6 : 5 }),
    })
    b.on('data', (c: Buffer) => decoder.push(c))
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    return { raw: b as Duplex, muxer, received }
  }

  it('serves remote stream ids above 2^31 and 2^53 and answers with the same id', async () => {
    const seen: StreamId[] = []
    const { raw, received } = rawPeer({
      onStream: (s) => {
        seen.push(s.id)
        echo(s)
      },
    })
    for (const id of [2 ** 31 + 7, 2 ** 33, 2n ** 55n + 1n]) {
      raw.write(encodeFrame(id, MplexFlag.NewStream, Buffer.from('big')))
      raw.write(encodeFrame(id, MplexFlag.MessageInitiator, Buffer.from('payload')))
      raw.write(encodeFrame(id, MplexFlag.CloseInitiator))
    }
    while (received.filter((f) => f.flag === MplexFlag.CloseReceiver).length < 3) await waitFor(raw, 'data')
    expect(seen).toEqual([2 ** 31 + 7, 2 ** 33, 2n ** 55n + 1n])
    for (const id of seen) {
      const echoed = received.filter((f) => f.id === id && f.flag === MplexFlag.MessageReceiver)
      expect(Buffer.concat(echoed.map((f) => f.data!)).toString()).toBe('payload')
    }
  })

  it('uses Initiator flags on streams it opened and Receiver flags on streams it accepted', async () => {
    const { raw, muxer, received } = rawPeer({
      onStream: (s) => {
        s.on('error', () => {})
        s.end(Buffer.from('r'))
      },
    })
    const out = muxer.newStream('n')
    out.on('error', () => {})
    out.end(Buffer.from('i'))
    raw.write(encodeFrame(0, MplexFlag.NewStream))
    while (received.length < 5) await waitFor(raw, 'data')
    const tags = received.map((f) => `${f.id}:${f.flag}:${f.data?.toString() ?? ''}`)
    // Our stream 0 (we initiated): NewStream, MessageInitiator, CloseInitiator, in that order.
    expect(tags.filter((t) => ['0:0:n', '0:2:i', '0:4:'].includes(t))).toEqual(['0:0:n', '0:2:i', '0:4:'])
    // Their stream 0 (we received): MessageReceiver then CloseReceiver.
    expect(tags.filter((t) => ['0:1:r', '0:3:'].includes(t))).toEqual(['0:1:r', '0:3:'])
    expect(tags).toHaveLength(5)
  })
})
