import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder, MplexFlag, type StreamId } from '../../../src/p2p/muxer/frame'
import { MplexMuxer, type MplexStream } from '../../../src/p2p/muxer/index'
import { deferred, drainOrClose, duplexPair, echo, randomBytes, readAll, tcpPair, waitFor, waitForError, writeAll } from './helpers'

const cleanups: Array<() => void | Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn()
})

const CHUNK = 64 * 1024

/**
 * Writes CHUNK-sized pieces into `stream` while the writer lets it (awaiting 'drain'
 * on false), up to `limit` bytes, until the stream dies. Calls `sample` at every
 * block so the test can look at the receiver while the writer is held back.
 */
async function pump(stream: Duplex, limit: number, sample: () => void): Promise<{ accepted: number; blocked: number }> {
  const chunk = randomBytes(CHUNK)
  let accepted = 0
  let blocked = 0
  while (accepted < limit && !stream.destroyed) {
    accepted += CHUNK
    if (!stream.write(chunk)) {
      blocked++
      sample()
      if (!(await drainOrClose(stream))) break
    }
  }
  return { accepted, blocked }
}

describe('mplex backpressure', () => {
  it('outbound: a connection that is not drained makes stream.write() return false, then drains', async () => {
    const [a, b] = duplexPair(16 * 1024)
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    const muxer = new MplexMuxer(a)
    const stream = muxer.newStream()
    stream.on('error', () => {})
    let accepted = 0
    // Capped so a broken backpressure path fails the assertion instead of looping forever.
    while (accepted < 64 * 1024 * 1024 && stream.write(Buffer.alloc(16 * 1024))) accepted += 16 * 1024
    // Bounded by the stream's, the connection's and the pipe's buffers, not by what we tried.
    expect(accepted).toBeLessThan(256 * 1024)
    const drained = waitFor(stream, 'drain')
    b.resume() // the remote starts reading
    await drained
  })

  it('inbound: an unread stream pauses the connection, holds the writer back, and is reset after stallTimeoutMs while another stream then proceeds', async () => {
    const hwm = 64 * 1024
    const [a, b] = duplexPair(CHUNK)
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    const order: string[] = []
    let unreadAtReset = -1
    const inbound = new EventEmitter()
    const listener = new MplexMuxer(b, {
      streamHighWaterMark: hwm,
      stallTimeoutMs: 300,
      onStream: (s) => {
        if (s.name === 'unread') {
          s.on('error', (err: Error & { code?: string }) => {
            order.push(`unread:${err.code}`)
            unreadAtReset = s.readableLength
          })
          inbound.emit('unread', s)
        } else echo(s)
      },
    })
    const dialer = new MplexMuxer(a)
    const other = dialer.newStream('other')
    const unread = dialer.newStream('unread')
    const writerErr = waitForError(unread)
    let paused = 0
    listener.on('pause', () => paused++)
    let maxBuffered = 0
    const sample = (): void => {
      maxBuffered = Math.max(maxBuffered, listener.bufferedBytes)
    }
    const pumping = pump(unread, 256 * 1024 * 1024, sample)
    await waitFor(listener, 'pause')
    expect(listener.readPaused).toBe(true)
    // Written while the connection is paused: cannot be read before the unread stream is reset.
    const otherDone = Promise.all([readAll(other), writeAll(other, Buffer.from('other stream data'))]).then(([r]) => {
      order.push('other:done')
      return r.toString()
    })
    const { accepted, blocked } = await pumping
    expect((await writerErr).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(await otherDone).toBe('other stream data')
    expect(order).toEqual(['unread:ERR_MPLEX_STREAM_STALLED', 'other:done'])
    expect(blocked).toBeGreaterThan(0)
    expect(accepted).toBeLessThan(4 * 1024 * 1024)
    expect(maxBuffered).toBeLessThanOrEqual(hwm + 2 * CHUNK)
    expect(unreadAtReset).toBeGreaterThanOrEqual(hwm)
    expect(unreadAtReset).toBeLessThanOrEqual(hwm + 2 * CHUNK)
    expect(paused).toBeGreaterThan(0)
    expect(listener.readPaused).toBe(false)
    expect(listener.status).toBe('open')
  })

  it('a slow reader gets every byte; the connection pauses and resumes instead of buffering', async () => {
    const [a, b] = duplexPair()
    cleanups.push(() => {
      a.destroy()
      b.destroy()
    })
    const received = deferred<Buffer>()
    const listener = new MplexMuxer(b, {
      streamHighWaterMark: 16 * 1024,
      stallTimeoutMs: Infinity,
      onStream: (s) => {
        const parts: Buffer[] = []
        let maxUnread = 0
        const readSome = (): void => {
          maxUnread = Math.max(maxUnread, s.readableLength)
          const c = s.read(4096) ?? s.read()
          if (c !== null) {
            parts.push(c)
            setImmediate(readSome)
          }
        }
        s.on('readable', readSome)
        s.on('end', () => received.resolve(Buffer.concat(parts)))
        s.on('error', received.reject)
      },
    })
    let pauses = 0
    listener.on('pause', () => pauses++)
    const dialer = new MplexMuxer(a)
    const data = randomBytes(2 * 1024 * 1024)
    const stream = dialer.newStream()
    await writeAll(stream, data)
    expect((await received.promise).equals(data)).toBe(true)
    expect(pauses).toBeGreaterThan(0)
    expect(listener.readPaused).toBe(false)
    stream.destroy()
  })

  it('a stream whose buffer passes maxStreamBufferSize is reset with ERR_MPLEX_BUFFER_OVERFLOW; the connection goes on', async () => {
    const [conn, raw] = duplexPair()
    cleanups.push(() => {
      conn.destroy()
      raw.destroy()
    })
    const streams = new EventEmitter()
    const muxer = new MplexMuxer(conn, {
      streamHighWaterMark: 64 * 1024,
      maxStreamBufferSize: 1536 * 1024,
      onStream: (s) => {
        if (s.id === 1) streams.emit('victim', s)
        else echo(s)
      },
    })
    const resets: StreamId[] = []
    const echoed: Buffer[] = []
    const decoder = new FrameDecoder({
      onNewStream: () => {},
      onMessage: (_id, _init, data) => echoed.push(Buffer.from(data)),
      onClose: () => {},
      onReset: (id) => resets.push(id),
    })
    raw.on('data', (c: Buffer) => decoder.push(c))
    const victimArrived = waitFor<[MplexStream]>(streams, 'victim')
    raw.write(encodeFrame(1, MplexFlag.NewStream))
    const [victim] = await victimArrived
    const overflow = waitForError(victim)
    // Two full frames in one chunk: pausing the connection cannot stop the second.
    raw.write(Buffer.concat([
      encodeFrame(1, MplexFlag.MessageInitiator, Buffer.alloc(1 << 20)),
      encodeFrame(1, MplexFlag.MessageInitiator, Buffer.alloc(1 << 20)),
    ]))
    expect((await overflow).code).toBe('ERR_MPLEX_BUFFER_OVERFLOW')
    raw.write(encodeFrame(2, MplexFlag.NewStream))
    raw.write(encodeFrame(2, MplexFlag.MessageInitiator, Buffer.from('alive')))
    while (Buffer.concat(echoed).toString() !== 'alive') await waitFor(raw, 'data')
    expect(resets).toEqual([1])
    expect(muxer.readPaused).toBe(false)
    expect(muxer.status).toBe('open')
  })

  it('over TCP: a peer writing 256 MiB into an unread stream is held back and the receiver stays bounded', async () => {
    const { client, server, close } = await tcpPair()
    const hwm = 128 * 1024
    const before = process.memoryUsage().arrayBuffers
    let unreadAtReset = -1
    let growthAtReset = -1
    const listener = new MplexMuxer(server, {
      streamHighWaterMark: hwm,
      stallTimeoutMs: 1000,
      onStream: (s) =>
        s.on('error', () => {
          // Sampled when the stall reset fires: the writer has been held back for stallTimeoutMs.
          unreadAtReset = s.readableLength
          growthAtReset = process.memoryUsage().arrayBuffers - before
        }),
    })
    let bufferedAtPause = -1
    listener.on('pause', () => {
      bufferedAtPause = listener.bufferedBytes
    })
    const dialer = new MplexMuxer(client)
    cleanups.push(async () => {
      dialer.abort(new Error('test done'))
      listener.abort(new Error('test done'))
      await close()
    })
    const stream = dialer.newStream()
    const writerErr = waitForError(stream)
    const { accepted, blocked } = await pump(stream, 256 * 1024 * 1024, () => {})
    expect((await writerErr).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(blocked).toBeGreaterThan(0)
    // Held back long before 256 MiB: kernel socket buffers plus our bounded ones.
    expect(accepted).toBeLessThan(32 * 1024 * 1024)
    expect(bufferedAtPause).toBeGreaterThanOrEqual(hwm)
    expect(unreadAtReset).toBeGreaterThanOrEqual(hwm)
    expect(unreadAtReset).toBeLessThanOrEqual(hwm + 2 * CHUNK)
    // Both ends live in this process; together they stay well under 32 MiB.
    expect(growthAtReset).toBeLessThan(32 * 1024 * 1024)
  })
})
