import { once } from 'node:events'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import {
  SocketClosedError,
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  DEFAULT_MAX_OUTBOUND_FRAME_SIZE,
  FrameMacError,
  STREAM_HIGH_WATER_MARK,
  TruncatedFrameError,
  secureInbound,
  secureOutbound,
} from '../../../src/p2p/crypto/index'
import { ResponderHandshake } from '../../../src/p2p/crypto/handshake-state'
import { MAX_HANDSHAKE_PACKET_SIZE } from '../../../src/p2p/crypto/limits'
import { LEGACY_AUTH_BODY_SIZE } from '../../../src/p2p/crypto/messages'
import { takePacket } from '../../../src/p2p/crypto/packets'
import { keyPairFromPrivateKey } from '../../../src/p2p/crypto/secp256k1'
import { closed, duplexPair, errorOf, hex, nodeKey, randomBytes, readBytes, securedPair, settle, within } from './helpers'

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn()
})
/** Destroyed after the test, last tracked first (secure streams before the pipes under them). */
function track(...items: Array<{ destroy(): unknown }>): void {
  cleanup.push(() => items.forEach((e) => e.destroy()))
}

describe('secure stream over an in-memory pipe', () => {
  it('authenticates both node ids and carries bytes both ways', async () => {
    const { x, y, a, b, keyA, keyB } = await securedPair()
    track(a.stream, b.stream, x, y)
    expect(hex(a.remoteId)).toBe(hex(keyB.id))
    expect(hex(b.remoteId)).toBe(hex(keyA.id))
    a.stream.write('ping')
    expect((await within(readBytes(b.stream, 4), 5000, 'ping')).toString()).toBe('ping')
    b.stream.write('pong')
    expect((await within(readBytes(a.stream, 4), 5000, 'pong')).toString()).toBe('pong')
  })

  it('encrypts: the plaintext never appears on the wire', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    const wire: Buffer[] = []
    x.tap = (c) => wire.push(c)
    const secret = Buffer.from('a very recognisable plaintext marker '.repeat(20))
    a.stream.write(secret)
    await within(readBytes(b.stream, secret.length), 5000, 'secret')
    const all = Buffer.concat(wire)
    expect(all.length).toBeGreaterThan(secret.length)
    expect(all.includes(Buffer.from('recognisable'))).toBe(false)
  })

  it('half-closes: end() reaches the remote as end, which can still answer', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    a.stream.end('last words')
    expect((await within(readBytes(b.stream, 10), 5000, 'data')).toString()).toBe('last words')
    b.stream.resume()
    await within(once(b.stream, 'end'), 5000, 'end')
    b.stream.end('reply')
    expect((await within(readBytes(a.stream, 5), 5000, 'reply')).toString()).toBe('reply')
    a.stream.resume()
    await within(Promise.all([closed(a.stream), closed(b.stream)]), 5000, 'both closed')
  })

  it('does not lose a frame that arrives in the same read as the ack', async () => {
    const keyA = nodeKey()
    const keyB = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    const chunksSeenByA: number[] = []
    y.tap = (c) => chunksSeenByA.push(c.length)
    y.cork() // the ack and the first frame leave together, as one chunk
    const outbound = secureOutbound(x, { privateKey: keyA.privateKey, remoteId: keyB.id })
    const b = await within(secureInbound(y, { privateKey: keyB.privateKey }), 5000, 'inbound')
    b.stream.write('early bytes')
    await settle()
    y.uncork()
    const a = await within(outbound, 5000, 'outbound')
    track(a.stream, b.stream)
    expect((await within(readBytes(a.stream, 11), 5000, 'early bytes')).toString()).toBe('early bytes')
    expect(chunksSeenByA).toHaveLength(1)
  })

  it('splits a 5 MiB write into frames the receiver accepts and delivers it byte-exact', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    const big = randomBytes(5 * 1024 * 1024)
    const back = randomBytes(5 * 1024 * 1024 + 7)
    // a single 5 MiB frame would exceed the receivers' inbound limit
    expect(big.length).toBeGreaterThan(DEFAULT_MAX_INBOUND_FRAME_SIZE)
    a.stream.write(big)
    b.stream.write(back)
    const [gotB, gotA] = await within(Promise.all([readBytes(b.stream, big.length), readBytes(a.stream, back.length)]), 30_000, '5 MiB')
    expect(gotB.equals(big)).toBe(true)
    expect(gotA.equals(back)).toBe(true)
  })

  it('coalesces a burst of small writes into one frame and one socket write', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    const before = x.chunksWritten
    const parts: Buffer[] = []
    for (let i = 0; i < 10_000; i++) {
      const p = Buffer.from(`m${i};`)
      parts.push(p)
      a.stream.write(p)
    }
    const expected = Buffer.concat(parts)
    expect(expected.length).toBeLessThan(DEFAULT_MAX_OUTBOUND_FRAME_SIZE)
    const got = await within(readBytes(b.stream, expected.length), 10_000, 'burst')
    expect(got.equals(expected)).toBe(true)
    expect(x.chunksWritten - before).toBe(1)
  })

  it('property: arbitrary write chunking round-trips byte-exact', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 70_000 }), fc.boolean()), { maxLength: 25 }),
        async (writes) => {
          const reading = readBytes(b.stream, writes.reduce((n, [w]) => n + w.length, 0))
          for (const [bytes, yieldAfter] of writes) {
            a.stream.write(bytes)
            if (yieldAfter) await settle(1)
          }
          const got = await within(reading, 10_000, 'property read')
          expect(got.equals(Buffer.concat(writes.map(([w]) => w)))).toBe(true)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('backpressure: a stalled reader stops the socket and the writer, and nothing is lost', async () => {
    const { x, y, a, b } = await securedPair({ highWaterMark: 16 * 1024 })
    track(a.stream, b.stream, x, y)
    const total = 8 * 1024 * 1024
    const data = randomBytes(total)
    const chunk = 64 * 1024
    let written = 0
    let maxSocketBacklog = 0
    const producer = (async () => {
      while (written < total) {
        const ok = a.stream.write(data.subarray(written, written + chunk))
        written += chunk
        maxSocketBacklog = Math.max(maxSocketBacklog, x.writableLength)
        if (!ok) await once(a.stream, 'drain')
      }
    })()
    await settle(50) // nobody reads b: the pipeline must fill up and stop
    const stalledAt = written
    expect(stalledAt).toBeLessThan(total / 4)
    // bounded everywhere: receiver buffer, raw pipe, and what we pushed into the socket past write() === false
    expect(b.stream.readableLength).toBeLessThanOrEqual(STREAM_HIGH_WATER_MARK + DEFAULT_MAX_OUTBOUND_FRAME_SIZE)
    expect(y.readableLength).toBeLessThanOrEqual(16 * 1024 + DEFAULT_MAX_OUTBOUND_FRAME_SIZE + 64)
    expect(maxSocketBacklog).toBeLessThanOrEqual(16 * 1024 + DEFAULT_MAX_OUTBOUND_FRAME_SIZE + 64)
    await settle(20)
    expect(written).toBe(stalledAt) // still stopped
    const got = await within(readBytes(b.stream, total), 30_000, 'drained read')
    await within(producer, 5000, 'producer')
    expect(got.equals(data)).toBe(true)
  })

  it('gives two connections from the same key different ephemeral keys and nonces; frames do not cross', async () => {
    const keyA = nodeKey()
    const keyB = nodeKey()
    const conns = []
    for (let i = 0; i < 2; i++) {
      const [x, y] = duplexPair()
      track(x, y)
      let auth: Buffer | undefined
      x.tap = (c) => (auth ??= c)
      const [a, b] = await Promise.all([
        secureOutbound(x, { privateKey: keyA.privateKey, remoteId: keyB.id }),
        secureInbound(y, { privateKey: keyB.privateKey }),
      ])
      const opened = takePacket(auth!, keyPairFromPrivateKey(keyB.privateKey), LEGACY_AUTH_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)!
      const remote = new ResponderHandshake(keyPairFromPrivateKey(keyB.privateKey)).receiveAuth(opened)
      track(a.stream, b.stream)
      conns.push({ x, y, a, b, remote })
    }
    const [c1, c2] = conns as [(typeof conns)[0], (typeof conns)[0]]
    expect(hex(c1.remote.id)).toBe(hex(c2.remote.id))
    expect(hex(c1.remote.nonce)).not.toBe(hex(c2.remote.nonce))
    expect(hex(c1.remote.ephemeralPublicKey)).not.toBe(hex(c2.remote.ephemeralPublicKey))

    const frames: Buffer[] = []
    c1.x.tap = (c) => frames.push(c)
    const c2Frames: Buffer[] = []
    c2.x.tap = (c) => c2Frames.push(c)
    c1.a.stream.write('same message')
    c2.a.stream.write('same message')
    await within(Promise.all([readBytes(c1.b.stream, 12), readBytes(c2.b.stream, 12)]), 5000, 'both')
    expect(Buffer.concat(frames).equals(Buffer.concat(c2Frames))).toBe(false)

    // replay connection 1's frame into connection 2
    const failure = errorOf(c2.b.stream)
    c2.b.stream.resume()
    c2.x.write(Buffer.concat(frames))
    const err = await within(failure, 5000, 'MAC failure')
    expect(err).toBeInstanceOf(FrameMacError)
    await within(closed(c2.y), 5000, 'socket destroyed')
    expect(c2.y.destroyed).toBe(true)
  })

  it('destroying the secure stream destroys the socket', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    a.stream.destroy()
    await within(closed(x), 5000, 'socket close')
    expect(x.destroyed).toBe(true)
  })

  it('a socket that closes without an end ends the stream with SocketClosedError', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    const failure = errorOf(b.stream)
    y.destroy()
    const err = await within(failure, 5000, 'close error')
    expect(err).toBeInstanceOf(SocketClosedError)
    expect((err as SocketClosedError).code).toBe('ERR_ECIES_CONNECTION_CLOSED')
  })

  it('a socket error (ECONNRESET) reaches readers as SocketClosedError with the raw error as cause', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    const failure = errorOf(b.stream)
    const peerFailure = errorOf(a.stream) // the pipe's other end closes too
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    y.destroy(reset)
    const err = await within(failure, 5000, 'socket error')
    expect(err).toBeInstanceOf(SocketClosedError)
    expect((err as SocketClosedError).code).toBe('ERR_ECIES_CONNECTION_CLOSED')
    expect((err as SocketClosedError).cause).toBe(reset)
    expect(await within(peerFailure, 5000, 'peer close error')).toBeInstanceOf(SocketClosedError)
  })

  it('an end in the middle of a frame is a TruncatedFrameError', async () => {
    const { x, y, a, b } = await securedPair()
    track(a.stream, b.stream, x, y)
    x.transform = (c) => c.subarray(0, c.length - 5)
    a.stream.write('this frame loses its tail')
    await settle()
    const failure = errorOf(b.stream)
    b.stream.resume()
    x.end()
    const err = await within(failure, 5000, 'truncation')
    expect(err).toBeInstanceOf(TruncatedFrameError)
    expect(y.destroyed).toBe(true)
  })
})
