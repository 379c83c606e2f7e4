import type { Duplex } from 'node:stream'
import debug from 'debug'
import { EciesError, HandshakeFailedError, InvalidOptionError } from './errors'
import { createFrameCodec } from './frame-cipher'
import { HandshakeIo } from './handshake-io'
import { InitiatorHandshake, ResponderHandshake } from './handshake-state'
import { loadKeccakEngine } from './keccak'
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  DEFAULT_MAX_OUTBOUND_FRAME_SIZE,
  MAX_HANDSHAKE_PACKET_SIZE,
  MAX_RLPX_FRAME_SIZE,
} from './limits'
import { LEGACY_ACK_BODY_SIZE, LEGACY_AUTH_BODY_SIZE } from './messages'
import { takePacket } from './packets'
import { idToPublicKey, staticKeyPair } from './secp256k1'
import { SecureStream } from './secure-stream'

const log = debug('p2p:ecies')

export interface SecureOptions {
  /** This node's 32-byte secp256k1 private key. */
  privateKey: Uint8Array
  /** Deadline for the whole handshake; default DEFAULT_HANDSHAKE_TIMEOUT_MS (10 s). */
  timeoutMs?: number
  /** Aborts the handshake (the socket is destroyed). No effect once it completed. */
  signal?: AbortSignal
  /** Largest frame body accepted; default DEFAULT_MAX_INBOUND_FRAME_SIZE (1 MiB). */
  maxInboundFrameSize?: number
  /** Largest frame body sent; default DEFAULT_MAX_OUTBOUND_FRAME_SIZE (256 KiB). */
  maxOutboundFrameSize?: number
  /** Largest auth/ack packet accepted; default MAX_HANDSHAKE_PACKET_SIZE (2 KiB). */
  maxHandshakePacketSize?: number
}

export interface SecureOutboundOptions extends SecureOptions {
  /** The 64-byte node id of the node being dialled; the handshake proves the remote holds its key. */
  remoteId: Uint8Array
}

export interface SecureConnection {
  /** Plaintext side of the channel: bytes written are framed and encrypted, reads are authenticated bodies. */
  stream: SecureStream
  /** The remote's authenticated 64-byte node id. */
  remoteId: Uint8Array
}

interface Limits {
  timeoutMs: number
  maxInbound: number
  maxOutbound: number
  maxPacket: number
}

/** Initiator side: sends an EIP-8 auth, accepts an EIP-8 or legacy ack. */
export async function secureOutbound(socket: Duplex, opts: SecureOutboundOptions): Promise<SecureConnection> {
  const limits = limitsOrDestroy(socket, opts)
  const io = new HandshakeIo(socket, { timeoutMs: limits.timeoutMs, signal: opts.signal })
  try {
    const staticKey = staticKeyPair(opts.privateKey)
    const remotePublicKey = idToPublicKey(opts.remoteId, 'remote id')
    const engine = loadKeccakEngine()
    const hs = new InitiatorHandshake(staticKey, remotePublicKey)
    io.write(hs.authPacket)
    const ack = await io.readPacket((buf) => takePacket(buf, staticKey, LEGACY_ACK_BODY_SIZE, limits.maxPacket))
    const { secrets } = hs.receiveAck(ack)
    const codec = createFrameCodec(await io.race(engine), secrets, limits.maxInbound)
    const leftover = io.finish()
    log('outbound handshake with %s done (%s ack, %d bytes early)', shortId(opts.remoteId), ack.legacy ? 'legacy' : 'EIP-8', leftover.length)
    return { stream: new SecureStream(socket, codec, leftover, limits.maxOutbound), remoteId: Uint8Array.from(opts.remoteId) }
  } catch (err) {
    throw abandon(socket, io, err, 'outbound')
  }
}

/** Recipient side: accepts an EIP-8 or legacy auth and answers in the same format. */
export async function secureInbound(socket: Duplex, opts: SecureOptions): Promise<SecureConnection> {
  const limits = limitsOrDestroy(socket, opts)
  const io = new HandshakeIo(socket, { timeoutMs: limits.timeoutMs, signal: opts.signal })
  try {
    const staticKey = staticKeyPair(opts.privateKey)
    const engine = loadKeccakEngine()
    const hs = new ResponderHandshake(staticKey)
    const auth = await io.readPacket((buf) => takePacket(buf, staticKey, LEGACY_AUTH_BODY_SIZE, limits.maxPacket))
    const remote = hs.receiveAuth(auth)
    const { ackPacket, secrets } = hs.respond()
    io.write(ackPacket)
    const codec = createFrameCodec(await io.race(engine), secrets, limits.maxInbound)
    const leftover = io.finish()
    log('inbound handshake from %s done (%s auth, %d bytes early)', shortId(remote.id), remote.legacy ? 'legacy' : 'EIP-8', leftover.length)
    return { stream: new SecureStream(socket, codec, leftover, limits.maxOutbound), remoteId: Uint8Array.from(remote.id) }
  } catch (err) {
    throw abandon(socket, io, err, 'inbound')
  }
}

function limitsOrDestroy(socket: Duplex, opts: SecureOptions): Limits {
  try {
    return resolveLimits(opts)
  } catch (err) {
    socket.destroy()
    throw err
  }
}

function resolveLimits(opts: SecureOptions): Limits {
  return {
    timeoutMs: positive(opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 'timeoutMs', Number.MAX_SAFE_INTEGER),
    maxInbound: positive(opts.maxInboundFrameSize ?? DEFAULT_MAX_INBOUND_FRAME_SIZE, 'maxInboundFrameSize', MAX_RLPX_FRAME_SIZE),
    maxOutbound: positive(opts.maxOutboundFrameSize ?? DEFAULT_MAX_OUTBOUND_FRAME_SIZE, 'maxOutboundFrameSize', MAX_RLPX_FRAME_SIZE),
    maxPacket: positive(opts.maxHandshakePacketSize ?? MAX_HANDSHAKE_PACKET_SIZE, 'maxHandshakePacketSize', 0xffff + 2),
  }
}

function positive(v: number, name: string, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new InvalidOptionError(`${name} must be an integer in [1, ${max}], got ${v}`)
  return v
}

/** Tears the socket down after a failed handshake and returns the error to throw (always an EciesError). */
function abandon(socket: Duplex, io: HandshakeIo, err: unknown, role: string): EciesError {
  io.abandon()
  // errors the dying socket may still report are moot: the handshake error below is the outcome
  socket.on('error', (e: Error) => log('%s socket error after failed handshake: %s', role, e.message))
  socket.destroy()
  const error = err instanceof EciesError ? err : new HandshakeFailedError(err)
  log('%s handshake failed: %s (%s)', role, error.message, error.code)
  return error
}

function shortId(id: Uint8Array): string {
  return Buffer.from(id.subarray(0, 4)).toString('hex')
}
