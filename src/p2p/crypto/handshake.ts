import type { Duplex } from 'node:stream'
import debug from 'debug'
import { TimeoutError, describeError } from '../errors'
import { shortId } from '../util/bytes'
import { withDeadline } from '../util/timeout'
import { EciesError, HandshakeFailedError, HandshakeTimeoutError, InvalidOptionError } from './errors'
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

/** What a handshake needs besides its deadline. */
export interface ChannelOptions {
  /** This node's 32-byte secp256k1 private key. */
  privateKey: Uint8Array
  /** Largest frame body accepted; default DEFAULT_MAX_INBOUND_FRAME_SIZE (1 MiB). */
  maxInboundFrameSize?: number
  /** Largest frame body sent; default DEFAULT_MAX_OUTBOUND_FRAME_SIZE (256 KiB). */
  maxOutboundFrameSize?: number
  /** Largest auth/ack packet accepted; default MAX_HANDSHAKE_PACKET_SIZE (2 KiB). */
  maxHandshakePacketSize?: number
}

export interface SecureOptions extends ChannelOptions {
  /** Deadline for the whole handshake; default DEFAULT_HANDSHAKE_TIMEOUT_MS (10 s). */
  timeoutMs?: number
  /** Aborts the handshake (the socket is destroyed). No effect once it completed. */
  signal?: AbortSignal
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
  maxInbound: number
  maxOutbound: number
  maxPacket: number
}

/** Initiator side: sends an EIP-8 auth, accepts an EIP-8 or legacy ack. Bounded by `timeoutMs` and `signal`. */
export function secureOutbound(socket: Duplex, opts: SecureOutboundOptions): Promise<SecureConnection> {
  return underOwnDeadline(socket, opts, (signal) => handshakeOutbound(socket, opts, signal))
}

/** Recipient side: accepts an EIP-8 or legacy auth and answers in the same format. Bounded by `timeoutMs` and `signal`. */
export function secureInbound(socket: Duplex, opts: SecureOptions): Promise<SecureConnection> {
  return underOwnDeadline(socket, opts, (signal) => handshakeInbound(socket, opts, signal))
}

/**
 * secureOutbound with no deadline of its own: `signal` is its only bound,
 * and when it aborts with a timeout error (the caller's deadline) that error
 * is what the handshake fails with. For callers that run one deadline over
 * more than the handshake (the Upgrader).
 */
export async function handshakeOutbound(
  socket: Duplex,
  opts: ChannelOptions & { remoteId: Uint8Array },
  signal: AbortSignal | undefined,
): Promise<SecureConnection> {
  const limits = orDestroy(socket, () => resolveLimits(opts))
  const io = new HandshakeIo(socket, signal)
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

/** secureInbound with no deadline of its own (see handshakeOutbound). */
export async function handshakeInbound(socket: Duplex, opts: ChannelOptions, signal: AbortSignal | undefined): Promise<SecureConnection> {
  const limits = orDestroy(socket, () => resolveLimits(opts))
  const io = new HandshakeIo(socket, signal)
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

/** Runs a handshake under a deadline of `opts.timeoutMs` whose expiry is a HandshakeTimeoutError. */
async function underOwnDeadline(
  socket: Duplex,
  opts: SecureOptions,
  run: (signal: AbortSignal) => Promise<SecureConnection>,
): Promise<SecureConnection> {
  const timeoutMs = orDestroy(socket, () => positive(opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 'timeoutMs', Number.MAX_SAFE_INTEGER))
  return withDeadline(timeoutMs, () => new HandshakeTimeoutError(timeoutMs), [opts.signal], run)
}

/** An option check that, failing, destroys the socket first: a handshake never leaves its socket behind. */
function orDestroy<T>(socket: Duplex, check: () => T): T {
  try {
    return check()
  } catch (err) {
    socket.destroy()
    throw err
  }
}

function resolveLimits(opts: ChannelOptions): Limits {
  return {
    maxInbound: positive(opts.maxInboundFrameSize ?? DEFAULT_MAX_INBOUND_FRAME_SIZE, 'maxInboundFrameSize', MAX_RLPX_FRAME_SIZE),
    maxOutbound: positive(opts.maxOutboundFrameSize ?? DEFAULT_MAX_OUTBOUND_FRAME_SIZE, 'maxOutboundFrameSize', MAX_RLPX_FRAME_SIZE),
    maxPacket: positive(opts.maxHandshakePacketSize ?? MAX_HANDSHAKE_PACKET_SIZE, 'maxHandshakePacketSize', 0xffff + 2),
  }
}

function positive(v: number, name: string, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new InvalidOptionError(`${name} must be an integer in [1, ${max}], got ${v}`)
  return v
}

/** Tears the socket down after a failed handshake and returns the error to throw (always an EciesError, or the caller's deadline error). */
function abandon(socket: Duplex, io: HandshakeIo, err: unknown, role: string): Error {
  io.abandon()
  // errors the dying socket may still report are moot: the handshake error below is the outcome
  socket.on('error', (e: Error) => log('%s socket error after failed handshake: %s', role, e.message))
  socket.destroy()
  const error = err instanceof EciesError || err instanceof TimeoutError ? err : new HandshakeFailedError(err)
  log('%s handshake failed: %s', role, describeError(error))
  return error
}
