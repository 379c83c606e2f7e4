import type { Duplex } from 'node:stream'
import { getPublicKey } from '@noble/secp256k1'
import debug from 'debug'
import { Connection, type Direction, type HostPort, type MuxerOptions } from './connection'
import { secureInbound, secureOutbound } from './crypto'
import { mssHandle, mssSelect } from './multistream'
import { MPLEX_PROTOCOL_ID } from './muxer'
import { resolveOptions } from './muxer/options'
import type { Registrar } from './registrar'
import {
  EncryptionFailedError,
  LegacyRlpxPeerError,
  UpgradeTimeoutError,
  MuxerNegotiationError,
  PeerDeniedError,
  SelfConnectionError,
  describeError,
} from './stack-errors'
import { abortReason, anySignal, raceSignal } from './util/abort'
import { equalBytes, shortId, toHex } from './util/bytes'
import { assertTimeout, createDeadline, type Deadline } from './util/timeout'

const log = debug('p2p:upgrader')
/** setTimeout's largest delay (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * multistream-select failures meaning "these bytes are not multistream framing
 * at all", as opposed to a multistream peer refusing mplex or hanging up.
 */
const NOT_MULTISTREAM_CODES = new Set([
  'ERR_MSS_PROTOCOL_ID_TOO_LONG',
  'ERR_MSS_INVALID_HEADER',
  'ERR_MSS_MISSING_NEWLINE',
  'ERR_VARINT_INVALID',
])

/**
 * Budget for the whole upgrade (ECIES auth/ack plus muxer selection): a few
 * round trips, so 10 s is generous for a slow link yet frees a stalled
 * handshake's slot before a flood of them can pile up.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Early refusal hooks (banned IPs or ids, rate limits). Each returns true to
 * refuse. One gater lives on the Upgrader; the Transport and its listeners
 * consult the same object, so a node configures it in one place.
 */
export interface ConnectionGater {
  /** At accept, before any handshake byte is read: drop the socket. */
  denyInboundSocket?(remoteAddr: HostPort): boolean
  /** After ECIES authenticated `remoteId`, before the muxer starts: drop the connection. */
  denyInboundPeer?(remoteId: Uint8Array, remoteAddr: HostPort): boolean
  /** Before dialing: refuse to connect out. */
  denyDial?(remoteId: Uint8Array, addr: HostPort): boolean
}

export interface UpgraderOptions {
  /** 32-byte secp256k1 secret key of this node. Never logged. */
  privateKey: Uint8Array
  registrar: Registrar
  /** Default DEFAULT_HANDSHAKE_TIMEOUT_MS (10 s). */
  handshakeTimeoutMs?: number
  /** Per-stream protocol negotiation timeout; default DEFAULT_STREAM_NEGOTIATION_TIMEOUT_MS (10 s). */
  streamNegotiationTimeoutMs?: number
  /** Graceful close budget of each connection; default DEFAULT_CONNECTION_CLOSE_TIMEOUT_MS (5 s). */
  connectionCloseTimeoutMs?: number
  /** Per-connection mplex limits (all protocols together); defaults are the muxer's. */
  maxInboundStreams?: number
  maxOutboundStreams?: number
  maxStreamBufferSize?: number
  /** Every other mplex option (high-water mark, stall timeout, frame size, ...); defaults are the muxer's. */
  muxer?: MuxerOptions
  gater?: ConnectionGater
}

export interface UpgradeOptions {
  signal?: AbortSignal
  /** Where the socket leads; read from a net.Socket when omitted. */
  remoteAddr?: HostPort
}

/**
 * Turns a raw socket into a Connection: ECIES secure channel, then
 * `/mplex/6.7.0` agreed with multistream-select (the initiator proposes),
 * then the mplex muxer. The whole upgrade is bounded by `handshakeTimeoutMs`
 * and the caller's signal; on any failure the socket is destroyed and a typed
 * UpgradeError (or the abort reason) is thrown.
 */
export class Upgrader {
  /** Our node id: the 64-byte uncompressed public key without the 0x04 prefix. */
  readonly localId: Uint8Array
  readonly handshakeTimeoutMs: number
  private readonly privateKey: Uint8Array
  private readonly registrar: Registrar
  readonly gater: ConnectionGater
  private readonly streamNegotiationTimeoutMs: number | undefined
  private readonly connectionCloseTimeoutMs: number | undefined
  private readonly muxerOptions: MuxerOptions

  constructor(opts: UpgraderOptions) {
    this.privateKey = opts.privateKey
    this.localId = nodeIdFromPrivateKey(opts.privateKey)
    this.registrar = opts.registrar
    this.gater = opts.gater ?? {}
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
    assertTimeout(this.handshakeTimeoutMs, 'handshakeTimeoutMs')
    this.streamNegotiationTimeoutMs = opts.streamNegotiationTimeoutMs
    this.connectionCloseTimeoutMs = opts.connectionCloseTimeoutMs
    this.muxerOptions = {
      ...opts.muxer,
      maxInboundStreams: opts.maxInboundStreams ?? opts.muxer?.maxInboundStreams,
      maxOutboundStreams: opts.maxOutboundStreams ?? opts.muxer?.maxOutboundStreams,
      maxStreamBufferSize: opts.maxStreamBufferSize ?? opts.muxer?.maxStreamBufferSize,
    }
    // Fail at construction, not on every connection, when a muxer option is out of range.
    resolveOptions(this.muxerOptions)
  }

  upgradeOutbound(socket: Duplex, opts: UpgradeOptions & { remoteId: Uint8Array }): Promise<Connection> {
    return this.upgrade(socket, 'outbound', opts.remoteId, opts)
  }

  upgradeInbound(socket: Duplex, opts: UpgradeOptions = {}): Promise<Connection> {
    return this.upgrade(socket, 'inbound', undefined, opts)
  }

  private async upgrade(
    socket: Duplex,
    direction: Direction,
    expectedId: Uint8Array | undefined,
    opts: UpgradeOptions,
  ): Promise<Connection> {
    const remoteAddr = opts.remoteAddr ?? socketAddress(socket)
    const timeoutMs = this.handshakeTimeoutMs
    let phase: 'encryption' | 'muxer' = 'encryption'
    const deadline = createDeadline(timeoutMs, () => new UpgradeTimeoutError(timeoutMs, phase))
    const linked = anySignal([opts.signal, deadline.signal])
    const destroy = (): void => {
      socket.destroy()
    }
    // Until the Connection takes over, a reset socket must not throw out of the event loop.
    const onSocketError = (err: Error): void => log('%s handshake socket error: %s', direction, err.message)
    socket.on('error', onSocketError)
    let channel: Duplex | undefined
    let upgraded = false
    log('%s upgrade %s:%d', direction, remoteAddr.host, remoteAddr.port)
    try {
      if (expectedId !== undefined && equalBytes(expectedId, this.localId)) throw new SelfConnectionError()
      const secured = await this.secure(socket, expectedId, deadline, linked.signal, destroy, opts.signal)
      // Same for the secure channel: destroying the socket below makes it emit 'error'.
      secured.stream.on('error', onSocketError)
      channel = secured.stream
      this.checkRemote(secured.remoteId, expectedId, remoteAddr)
      phase = 'muxer'
      const muxed = await this.selectMuxer(secured.stream, direction, deadline, linked.signal, destroy, opts.signal)
      const conn = new Connection({
        remoteId: secured.remoteId,
        remoteAddr,
        direction,
        socket,
        stream: muxed,
        registrar: this.registrar,
        streamNegotiationTimeoutMs: this.streamNegotiationTimeoutMs,
        closeTimeoutMs: this.connectionCloseTimeoutMs,
        muxer: this.muxerOptions,
      })
      upgraded = true
      log('%s upgraded %s:%d → %s (%s)', direction, remoteAddr.host, remoteAddr.port, conn.id, shortId(conn.remoteId))
      return conn
    } catch (err) {
      destroy()
      log('%s upgrade %s:%d failed: %s', direction, remoteAddr.host, remoteAddr.port, describeError(err))
      throw err
    } finally {
      linked.clear()
      deadline.clear()
      // After a failure the listeners stay: the dying socket and channel may still report errors.
      if (upgraded) {
        socket.off('error', onSocketError)
        channel?.off('error', onSocketError)
      }
    }
  }

  private async secure(
    socket: Duplex,
    remoteId: Uint8Array | undefined,
    deadline: Deadline,
    signal: AbortSignal,
    destroy: () => void,
    callerSignal: AbortSignal | undefined,
  ): Promise<{ stream: Duplex; remoteId: Uint8Array }> {
    // Our deadline governs; the crypto layer's own timer (it requires one) is set no earlier.
    const timeoutMs = Math.min(Math.max(1, Math.ceil(this.handshakeTimeoutMs)), MAX_TIMER_MS)
    const opts = { privateKey: this.privateKey, timeoutMs, signal }
    const handshake =
      remoteId === undefined ? secureInbound(socket, opts) : secureOutbound(socket, { ...opts, remoteId })
    try {
      return await raceSignal(handshake, signal, destroy, 'handshake')
    } catch (err) {
      throw classify(err, deadline, callerSignal, 'encryption', this.handshakeTimeoutMs, (cause) => new EncryptionFailedError(cause))
    }
  }

  private async selectMuxer(
    stream: Duplex,
    direction: Direction,
    deadline: Deadline,
    signal: AbortSignal,
    destroy: () => void,
    callerSignal: AbortSignal | undefined,
  ): Promise<Duplex> {
    const protocols = [MPLEX_PROTOCOL_ID]
    // Our deadline bounds the whole upgrade; the negotiation gets no second, independent timer.
    const opts = { signal, timeoutMs: Infinity }
    const negotiation = direction === 'outbound' ? mssSelect(stream, protocols, opts) : mssHandle(stream, protocols, opts)
    try {
      const result = await raceSignal(negotiation, signal, destroy, 'muxer negotiation')
      return result.stream
    } catch (err) {
      throw classify(err, deadline, callerSignal, 'muxer', this.handshakeTimeoutMs, (cause) =>
        NOT_MULTISTREAM_CODES.has(errorCode(cause)) ? new LegacyRlpxPeerError(cause) : new MuxerNegotiationError(cause),
      )
    }
  }

  private checkRemote(remoteId: Uint8Array, expectedId: Uint8Array | undefined, remoteAddr: HostPort): void {
    if (expectedId !== undefined) {
      // The secure channel authenticates the id we asked for; a mismatch is a crypto-layer bug.
      if (!equalBytes(remoteId, expectedId)) {
        throw new EncryptionFailedError(new Error(`authenticated ${shortId(remoteId)}, expected ${shortId(expectedId)}`))
      }
      return
    }
    if (equalBytes(remoteId, this.localId)) throw new SelfConnectionError()
    if (this.gater.denyInboundPeer?.(remoteId, remoteAddr) === true) throw new PeerDeniedError(toHex(remoteId))
  }
}

/**
 * Our deadline and the caller's abort win over whatever the lower layer threw
 * in reaction to the socket being destroyed; a lower layer's own timeout is
 * reported as the handshake timeout it is.
 */
function classify(
  err: unknown,
  deadline: Deadline,
  callerSignal: AbortSignal | undefined,
  phase: 'encryption' | 'muxer',
  timeoutMs: number,
  wrap: (cause: unknown) => Error,
): Error {
  if (err instanceof UpgradeTimeoutError || err instanceof SelfConnectionError) return err
  if (deadline.expired) return deadline.signal.reason as Error
  if (callerSignal?.aborted === true) return abortReason(callerSignal, 'upgrade')
  const code = errorCode(err)
  if (code === 'ERR_TIMEOUT' || code.endsWith('_TIMEOUT')) {
    return new UpgradeTimeoutError(timeoutMs, phase, err)
  }
  return wrap(err)
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : ''
}

/** Node id = uncompressed secp256k1 public key without its 0x04 prefix (never the private key). */
export function nodeIdFromPrivateKey(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new RangeError('privateKey must be a 32-byte secp256k1 secret key')
  }
  let pub: Uint8Array
  try {
    pub = getPublicKey(privateKey, false)
  } catch {
    throw new RangeError('privateKey is not a valid secp256k1 secret key')
  }
  return pub.slice(1)
}

function socketAddress(socket: Duplex): HostPort {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number }
  return { host: s.remoteAddress ?? '', port: s.remotePort ?? 0 }
}
