import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import * as secp from '@noble/secp256k1'
import { expect } from 'vitest'
import {
  DecryptError,
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  FrameMacError,
  FrameTooLargeError,
  HandshakeClosedError,
  HandshakeTimeoutError,
  HandshakeTooLargeError,
  MAX_HANDSHAKE_PACKET_SIZE,
  secureInbound,
  secureOutbound,
  TruncatedFrameError,
} from '../../src/p2p/crypto/index'
import { duplexPair, type MemoryDuplex } from '../utils/duplex-pair'
import { within } from '../utils/sockets'
import { badInputTable, expectRejectsTyped, expectTypedError } from './table'

function nodeKey(): { privateKey: Uint8Array; id: Uint8Array } {
  const privateKey = secp.utils.randomSecretKey()
  return { privateKey, id: secp.getPublicKey(privateKey, false).subarray(1) }
}

const alice = nodeKey()
const bob = nodeKey()
const carol = nodeKey()

/** Resolves with the error `stream` is destroyed with; collects what it delivered before. */
function failureOf(stream: Duplex): { error: Promise<Error>; delivered: () => Buffer } {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  const error = within(
    new Promise<Error>((resolve, reject) => {
      stream.once('error', resolve)
      stream.once('close', () => (stream.errored ? resolve(stream.errored as Error) : reject(new Error('stream closed without an error'))))
    }),
    'secure stream failure',
  )
  return { error, delivered: () => Buffer.concat(chunks) }
}

/** The sender's own stream fails with SocketClosedError once the receiver drops the socket: expected, not checked here. */
function ignoreRemoteHangUp(stream: Duplex): void {
  stream.on('error', () => {})
}

/** A full handshake over an in-memory pair that records what the initiator wrote. */
async function recordedSession(): Promise<{ x: MemoryDuplex; y: MemoryDuplex; a: Duplex; b: Duplex }> {
  const [x, y] = duplexPair({ recordWrites: true })
  const [out, inb] = await Promise.all([
    secureOutbound(x, { privateKey: alice.privateKey, remoteId: bob.id }),
    secureInbound(y, { privateKey: bob.privateKey }),
  ])
  return { x, y, a: out.stream, b: inb.stream }
}

/** Bob's inbound handshake over a fresh pair whose remote end the test drives by hand. */
function inboundFacing(opts: { timeoutMs?: number } = {}) {
  const [remote, local] = duplexPair()
  remote.resume()
  const handshake = secureInbound(local, { privateKey: bob.privateKey, ...opts })
  return { remote, local, handshake, close: () => (remote.destroy(), local.destroy()) }
}

/** A valid EIP-8 auth from alice to `to`, taken off the wire of a real handshake attempt. */
async function authFor(to: { id: Uint8Array }): Promise<Buffer> {
  const [x, y] = duplexPair()
  const first = new Promise<Buffer>((resolve) => y.once('data', resolve))
  const dialing = secureOutbound(x, { privateKey: alice.privateKey, remoteId: to.id })
  dialing.catch(() => {})
  const auth = await within(first, 'auth packet')
  x.destroy()
  y.destroy()
  return auth
}

badInputTable('ecies', 'handshake (auth / ack)', [
  {
    case: 'random bytes instead of an auth',
    expected: 'DecryptError (ERR_ECIES_DECRYPT), socket destroyed',
    run: async () => {
      const t = inboundFacing()
      const junk = randomBytes(402)
      junk[0] = 0x01 // an EIP-8 size prefix of 0x0190 = 400: the bytes are read as a packet and tried
      junk[1] = 0x90
      t.remote.write(junk)
      await expectRejectsTyped(t.handshake, DecryptError, 'ERR_ECIES_DECRYPT')
      expect(t.local.destroyed).toBe(true)
      t.close()
    },
  },
  {
    case: 'truncated auth, then FIN',
    expected: 'HandshakeClosedError (ERR_ECIES_HANDSHAKE_CLOSED), socket destroyed',
    run: async () => {
      const auth = await authFor(bob)
      const t = inboundFacing()
      t.remote.end(auth.subarray(0, auth.length - 10))
      await expectRejectsTyped(t.handshake, HandshakeClosedError, 'ERR_ECIES_HANDSHAKE_CLOSED')
      expect(t.local.destroyed).toBe(true)
      t.close()
    },
  },
  {
    case: 'auth sealed for another node id',
    expected: 'DecryptError (ERR_ECIES_DECRYPT): not addressed to this node',
    run: async () => {
      const t = inboundFacing()
      t.remote.write(await authFor(carol))
      await expectRejectsTyped(t.handshake, DecryptError, 'ERR_ECIES_DECRYPT')
      t.close()
    },
  },
  {
    case: `auth size prefix announcing more than ${MAX_HANDSHAKE_PACKET_SIZE} bytes`,
    expected: 'HandshakeTooLargeError (ERR_ECIES_HANDSHAKE_TOO_LARGE) before the packet is buffered',
    run: async () => {
      const t = inboundFacing()
      t.remote.write(Uint8Array.of(0x20, 0x00)) // 8192
      await expectRejectsTyped(t.handshake, HandshakeTooLargeError, 'ERR_ECIES_HANDSHAKE_TOO_LARGE')
      t.close()
    },
  },
  {
    case: 'silent peer (connects, sends nothing)',
    expected: 'HandshakeTimeoutError (ERR_ECIES_HANDSHAKE_TIMEOUT) at the handshake deadline, socket destroyed',
    run: async () => {
      const t = inboundFacing({ timeoutMs: 50 })
      await expectRejectsTyped(t.handshake, HandshakeTimeoutError, 'ERR_ECIES_HANDSHAKE_TIMEOUT')
      expect(t.local.destroyed).toBe(true)
      t.close()
    },
  },
  {
    case: 'random bytes instead of an ack',
    expected: 'DecryptError (ERR_ECIES_DECRYPT) on the dialer, socket destroyed',
    run: async () => {
      const [remote, local] = duplexPair()
      const dialing = secureOutbound(local, { privateKey: alice.privateKey, remoteId: bob.id })
      await within(new Promise((resolve) => remote.once('data', resolve)), 'auth')
      const junk = randomBytes(300)
      junk[0] = 0x01
      junk[1] = 0x20
      remote.write(junk)
      await expectRejectsTyped(dialing, DecryptError, 'ERR_ECIES_DECRYPT')
      expect(local.destroyed).toBe(true)
      remote.destroy()
    },
  },
  {
    case: 'replayed auth and first frame of a recorded session',
    expected: 'handshake completes (nothing to tell), then FrameMacError (ERR_ECIES_BAD_MAC) on the first frame; nothing delivered',
    run: async () => {
      const s = await recordedSession()
      const got = new Promise((resolve) => s.b.once('data', resolve))
      s.a.write('secret payload')
      await within(got, 'first frame')
      const recorded = Buffer.concat(s.x.writes)
      s.a.destroy()
      s.b.destroy()
      const t = inboundFacing()
      t.remote.write(recorded)
      const replayed = await within(t.handshake, 'replayed handshake')
      const f = failureOf(replayed.stream)
      expectTypedError(await f.error, FrameMacError, 'ERR_ECIES_BAD_MAC')
      expect(f.delivered().length).toBe(0)
      t.close()
    },
  },
])

badInputTable('ecies', 'frames after the handshake', [
  {
    case: 'one flipped bit in a frame',
    expected: 'FrameMacError (ERR_ECIES_BAD_MAC), stream and socket destroyed, no corrupted byte delivered',
    run: async () => {
      const [x, y] = duplexPair()
      const [out, inb] = await Promise.all([
        secureOutbound(x, { privateKey: alice.privateKey, remoteId: bob.id }),
        secureInbound(y, { privateKey: bob.privateKey }),
      ])
      const f = failureOf(inb.stream)
      ignoreRemoteHangUp(out.stream)
      // Intercept what the initiator writes from now on and flip one bit of its first frame.
      const write = x._write.bind(x)
      x._write = (chunk: Buffer, enc, cb) => {
        const bad = Buffer.from(chunk)
        bad[40]! ^= 0x01
        x._write = write
        write(bad, enc, cb)
      }
      out.stream.write(randomBytes(1000))
      expectTypedError(await f.error, FrameMacError, 'ERR_ECIES_BAD_MAC')
      expect(f.delivered().length).toBe(0)
      expect(y.destroyed).toBe(true)
      out.stream.destroy()
    },
  },
  {
    case: `frame announcing more than the ${DEFAULT_MAX_INBOUND_FRAME_SIZE}-byte inbound limit`,
    expected: 'FrameTooLargeError (ERR_ECIES_FRAME_TOO_LARGE), stream destroyed',
    run: async () => {
      const [x, y] = duplexPair()
      const [out, inb] = await Promise.all([
        secureOutbound(x, { privateKey: alice.privateKey, remoteId: bob.id, maxOutboundFrameSize: 4 * DEFAULT_MAX_INBOUND_FRAME_SIZE }),
        secureInbound(y, { privateKey: bob.privateKey }),
      ])
      const f = failureOf(inb.stream)
      ignoreRemoteHangUp(out.stream)
      out.stream.write(randomBytes(2 * DEFAULT_MAX_INBOUND_FRAME_SIZE))
      expectTypedError(await f.error, FrameTooLargeError, 'ERR_ECIES_FRAME_TOO_LARGE')
      expect(f.delivered().length).toBe(0)
      out.stream.destroy()
    },
  },
  {
    case: 'FIN in the middle of a frame',
    expected: 'TruncatedFrameError (ERR_ECIES_TRUNCATED_FRAME); the partial frame is not delivered',
    run: async () => {
      const [x, y] = duplexPair()
      const [out, inb] = await Promise.all([
        secureOutbound(x, { privateKey: alice.privateKey, remoteId: bob.id }),
        secureInbound(y, { privateKey: bob.privateKey }),
      ])
      const f = failureOf(inb.stream)
      ignoreRemoteHangUp(out.stream)
      const write = x._write.bind(x)
      x._write = (chunk: Buffer, enc, cb) => {
        x._write = write
        write(chunk.subarray(0, 20), enc, () => {
          x.end()
          cb()
        })
      }
      out.stream.write(randomBytes(100))
      expectTypedError(await f.error, TruncatedFrameError, 'ERR_ECIES_TRUNCATED_FRAME')
      expect(f.delivered().length).toBe(0)
      out.stream.destroy()
    },
  },
])
