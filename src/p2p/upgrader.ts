import type { Duplex } from 'node:stream'
import debug from 'debug'
import { Connection, type Direction, type HostPort, type MuxerOptions } from './connection'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './crypto'
import { handshakeInbound, handshakeOutbound } from './crypto/handshake'
import { nodeIdFromPrivateKey } from './crypto/secp256k1'
import { describeError } from './errors'
import { MssInvalidHeaderError, MssMissingNewlineError, MssProtocolIdTooLongError } from './multistream'
import { handleProtocol } from './multistream/handle'
import { selectProtocol } from './multistream/select'
import { MPLEX_PROTOCOL_ID } from './muxer'
import { resolveOptions } from './muxer/options'
import type { Registrar } from './registrar'
import {
  EncryptionFailedError,
  LegacyRlpxPeerError,
  MuxerNegotiationError,
  PeerDeniedError,
  SelfConnectionError,
  UpgradeError,
  type UpgradePhase,
  UpgradeTimeoutError,
} from './stack-errors'
import { abortReason } from './util/abort'
import { equalBytes, shortId } from './util/bytes'
import { assertTimeout, withDeadline } from './util/timeout'

const log = debug('p2p:upgrader')

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

  /**
   * One deadline bounds the whole upgrade: its signal, joined with the
   * caller's, flows down through the ECIES handshake and the muxer
   * negotiation, neither of which runs a timer of its own. When it fires,
   * its reason names the phase the upgrade was in (and the remote, once
   * authenticated).
   */
  private async upgrade(
    socket: Duplex,
    direction: Direction,
    expectedId: Uint8Array | undefined,
    opts: UpgradeOptions,
  ): Promise<Connection> {
    const remoteAddr = opts.remoteAddr ?? socketAddress(socket)
    const timeoutMs = this.handshakeTimeoutMs
    let phase: UpgradePhase = 'encryption'
    let authenticated: Uint8Array | undefined
    // Until the Connection takes over, a reset socket must not throw out of the event loop.
    const onSocketError = (err: Error): void => log('%s handshake socket error: %s', direction, err.message)
    socket.on('error', onSocketError)
    let channel: Duplex | undefined
    let upgraded = false
    log('%s upgrade %s:%d', direction, remoteAddr.host, remoteAddr.port)
    try {
      if (expectedId !== undefined && equalBytes(expectedId, this.localId)) throw new SelfConnectionError()
      const deadlineError = (): Error => new UpgradeTimeoutError(timeoutMs, phase, authenticated)
      const conn = await withDeadline(timeoutMs, deadlineError, [opts.signal], async (signal) => {
        const secured = await this.secure(socket, expectedId, signal)
        // Same for the secure channel: destroying the socket below makes it emit 'error'.
        secured.stream.on('error', onSocketError)
        channel = secured.stream
        this.checkRemote(secured.remoteId, expectedId, remoteAddr)
        authenticated = secured.remoteId
        phase = 'muxer'
        const muxed = await this.selectMuxer(secured.stream, direction, signal, secured.remoteId)
        return new Connection({
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
      })
      upgraded = true
      log('%s upgraded %s:%d → %s (%s)', direction, remoteAddr.host, remoteAddr.port, conn.id, shortId(conn.remoteId))
      return conn
    } catch (err) {
      socket.destroy()
      log('%s upgrade %s:%d failed: %s', direction, remoteAddr.host, remoteAddr.port, describeError(err))
      throw err
    } finally {
      // After a failure the listeners stay: the dying socket and channel may still report errors.
      if (upgraded) {
        socket.off('error', onSocketError)
        channel?.off('error', onSocketError)
      }
    }
  }

  private async secure(socket: Duplex, remoteId: Uint8Array | undefined, signal: AbortSignal): Promise<{ stream: Duplex; remoteId: Uint8Array }> {
    const opts = { privateKey: this.privateKey }
    try {
      return remoteId === undefined ? await handshakeInbound(socket, opts, signal) : await handshakeOutbound(socket, { ...opts, remoteId }, signal)
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) => new EncryptionFailedError(cause))
    }
  }

  private async selectMuxer(stream: Duplex, direction: Direction, signal: AbortSignal, remoteId: Uint8Array): Promise<Duplex> {
    const protocols = [MPLEX_PROTOCOL_ID]
    try {
      const negotiated = direction === 'outbound' ? selectProtocol(stream, protocols, signal) : handleProtocol(stream, protocols, signal)
      return (await negotiated).stream
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) =>
        isNotMultistream(cause) ? new LegacyRlpxPeerError(cause, remoteId) : new MuxerNegotiationError(cause, remoteId),
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
    if (this.gater.denyInboundPeer?.(remoteId, remoteAddr) === true) throw new PeerDeniedError(remoteId)
  }
}

/**
 * Once the upgrade's signal has fired, its reason is the outcome (the
 * deadline's UpgradeTimeoutError, or the caller's abort reason), whatever
 * the lower layer threw as its socket went away.
 */
function upgradeFailure(err: unknown, signal: AbortSignal, wrap: (cause: unknown) => UpgradeError): Error {
  if (signal.aborted) return abortReason(signal, 'upgrade')
  if (err instanceof UpgradeError) return err
  return wrap(err)
}

/**
 * multistream-select failures meaning "these bytes are not multistream
 * framing at all", as opposed to a multistream peer refusing mplex or
 * hanging up. A devp2p Hello frame starts with 0x80, which reads as an
 * oversized length prefix.
 */
function isNotMultistream(err: unknown): boolean {
  return err instanceof MssProtocolIdTooLongError || err instanceof MssInvalidHeaderError || err instanceof MssMissingNewlineError
}

function socketAddress(socket: Duplex): HostPort {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number }
  return { host: s.remoteAddress ?? '', port: s.remotePort ?? 0 }
}
