import { afterEach, describe, expect, it } from 'vitest'
import { encodeUvarint } from '../../../src/p2p/codec/uvarint'
import { encodeFrame, MAX_FRAME_SIZE, MplexFlag } from '../../../src/p2p/muxer/frame'
import { FrameMacError } from '../../../src/p2p/crypto/errors'
import { MplexConnectionClosedError, MplexMuxer, type MplexStream } from '../../../src/p2p/muxer/index'
import { deferred, duplexPair, echo, readAll, waitFor, waitForError } from './helpers'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn()
})

/** Our muxer on `conn`, raw bytes written on `raw`; one stream (id 1) already open and echoing. */
async function withOpenStream() {
  const [conn, raw] = duplexPair()
  cleanups.push(() => {
    conn.destroy()
    raw.destroy()
  })
  const accepted = deferred<MplexStream>()
  const muxer = new MplexMuxer(conn, { onStream: (s) => accepted.resolve(s) })
  raw.write(encodeFrame(1, MplexFlag.NewStream))
  const stream = await accepted.promise
  raw.resume() // discard whatever the muxer writes back
  return { conn, raw, muxer, stream }
}

/** Asserts the muxer aborted with `code`: 'close' carries it, the open stream errors with it, the connection is destroyed. */
async function expectAbort(muxer: MplexMuxer, stream: MplexStream, code: string, trigger: () => void) {
  const closed = waitFor<[Error & { code?: string }]>(muxer, 'close')
  const streamErr = waitForError(stream)
  trigger()
  const [err] = await closed
  expect(err.code).toBe(code)
  expect((await streamErr).code).toBe(code)
  expect(muxer.status).toBe('closed')
}

describe('mplex bad input', () => {
  it('flag 7 aborts the connection with ERR_MPLEX_INVALID_FLAG', async () => {
    const { conn, raw, muxer, stream } = await withOpenStream()
    await expectAbort(muxer, stream, 'ERR_MPLEX_INVALID_FLAG', () => {
      raw.write(Buffer.from([...encodeUvarint(1 * 8 + 7), 0]))
    })
    expect(conn.destroyed).toBe(true)
  })

  it('a frame over 1 MiB aborts with ERR_MPLEX_FRAME_TOO_LARGE before its data arrives', async () => {
    const { conn, raw, muxer, stream } = await withOpenStream()
    await expectAbort(muxer, stream, 'ERR_MPLEX_FRAME_TOO_LARGE', () => {
      raw.write(Buffer.from([...encodeUvarint(1 * 8 + 2), ...encodeUvarint(MAX_FRAME_SIZE + 1)]))
    })
    expect(conn.destroyed).toBe(true)
  })

  it('an over-long header varint aborts with ERR_MPLEX_INVALID_FRAME', async () => {
    const { raw, muxer, stream } = await withOpenStream()
    await expectAbort(muxer, stream, 'ERR_MPLEX_INVALID_FRAME', () => raw.write(Buffer.alloc(10, 0xff)))
  })

  it('a NewStream for an id still open aborts with ERR_MPLEX_DUPLICATE_STREAM', async () => {
    const { raw, muxer, stream } = await withOpenStream()
    await expectAbort(muxer, stream, 'ERR_MPLEX_DUPLICATE_STREAM', () => raw.write(encodeFrame(1, MplexFlag.NewStream)))
  })

  it('frames for unknown streams are dropped and the connection keeps serving', async () => {
    const [conn, raw] = duplexPair()
    cleanups.push(() => {
      conn.destroy()
      raw.destroy()
    })
    const muxer = new MplexMuxer(conn, { onStream: echo })
    let closed = false
    muxer.on('close', () => {
      closed = true
    })
    // Data, close and reset for ids nobody opened, in both directions' flags.
    raw.write(encodeFrame(42, MplexFlag.MessageInitiator, Buffer.from('lost')))
    raw.write(encodeFrame(42, MplexFlag.MessageReceiver, Buffer.from('lost')))
    raw.write(encodeFrame(43, MplexFlag.CloseInitiator))
    raw.write(encodeFrame(44, MplexFlag.ResetReceiver))
    // Then a real stream: its echo proves the muxer is alive and wrote nothing for the junk.
    raw.write(encodeFrame(7, MplexFlag.NewStream))
    raw.write(encodeFrame(7, MplexFlag.MessageInitiator, Buffer.from('ok')))
    raw.write(encodeFrame(7, MplexFlag.CloseInitiator))
    const expected = Buffer.concat([
      encodeFrame(7, MplexFlag.MessageReceiver, Buffer.from('ok')),
      encodeFrame(7, MplexFlag.CloseReceiver),
    ])
    const got: Buffer[] = []
    raw.on('data', (c: Buffer) => got.push(c))
    while (Buffer.concat(got).length < expected.length) await waitFor(raw, 'data')
    expect(Buffer.concat(got).equals(expected)).toBe(true)
    expect(closed).toBe(false)
    expect(muxer.status).toBe('open')
  })

  it('a throwing stream handler resets that stream only', async () => {
    const [a, b] = duplexPair()
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    let calls = 0
    new MplexMuxer(b, {
      onStream: (s) => {
        if (calls++ === 0) throw new Error('handler bug')
        echo(s)
      },
    })
    const dialer = new MplexMuxer(a)
    const first = dialer.newStream()
    expect((await waitForError(first)).code).toBe('ERR_MPLEX_STREAM_RESET')
    const second = dialer.newStream()
    second.end(Buffer.from('still works'))
    expect((await readAll(second)).toString()).toBe('still works')
  })

  it('a muxer over an already destroyed connection closes with ERR_MPLEX_CONNECTION_CLOSED', async () => {
    const [conn, raw] = duplexPair()
    raw.destroy()
    conn.destroy()
    const muxer = new MplexMuxer(conn)
    const [err] = await waitFor<[Error & { code?: string }]>(muxer, 'close')
    expect(err.code).toBe('ERR_MPLEX_CONNECTION_CLOSED')
    expect(muxer.status).toBe('closed')
  })

  it('a raw connection error (ECONNRESET) aborts the muxer with a typed MplexConnectionClosedError carrying it as cause', async () => {
    const { conn, muxer, stream } = await withOpenStream()
    const boom = Object.assign(new Error('socket broke'), { code: 'ECONNRESET' })
    const streamErr = waitForError(stream)
    await expectAbort(muxer, stream, 'ERR_MPLEX_CONNECTION_CLOSED', () => conn.destroy(boom))
    const err = await streamErr
    expect(err).toBeInstanceOf(MplexConnectionClosedError)
    expect(err.cause).toBe(boom)
  })

  it('a typed connection error from the layer below reaches the streams unchanged', async () => {
    const { conn, muxer, stream } = await withOpenStream()
    const typed = new FrameMacError('body')
    await expectAbort(muxer, stream, 'ERR_ECIES_BAD_MAC', () => conn.destroy(typed))
  })
})
