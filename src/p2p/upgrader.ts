import type { Duplex } from 'node:stream'
import debug from 'debug'
import { Connection, type Direction, type HostPort, type MuxerOptions } from './connection'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './crypto'
import { type SecureConnection, handshakeInbound, handshakeOutbound } from './crypto/handshake'
import { nodeIdFromPrivateKey } from './crypto/secp256k1'
import { describeError } from './errors'
import { MssInvalidHeaderError, MssMissingNewlineError, MssProtocolIdTooLongError } from './multistream'
import { handleProtocol } from './multistream/handle'
import { selectProtocol } from './multistream/select'
import { MPLEX_PROTOCOL_ID } from './muxer'
import { resolveOptions } from './muxer/options'
import type { Registrar } from './registrar'
import {
  type Capability,
  DisconnectReason,
  RlpxError,
  RlpxMuxer,
  RlpxNoSharedCapabilityError,
  capabilitiesForProtocols,
  classifyFirstFrame,
  readFirstFrame,
  refuseBeforeHello,
} from './rlpx'
import { RlpxPeerMemory, type RlpxUpgradeOptions, type ResolvedRlpxUpgradeOptions, resolveRlpxUpgradeOptions } from './upgrader-rlpx'
import {
  EncryptionFailedError,
  LegacyRlpxPeerError,
  MuxerNegotiationError,
  PeerDeniedError,
  RlpxHandshakeFailedError,
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
  /**
   * After ECIES authenticated `remoteId`, before the muxer starts: refuse the
   * connection. `true` refuses with USELESS_PEER, a DisconnectReason with that
   * reason; an RLPx peer is sent it as a Disconnect before any Hello, as geth
   * does (a modular peer's connection is just closed). `false` admits.
   */
  denyInboundPeer?(remoteId: Uint8Array, remoteAddr: HostPort): boolean | DisconnectReason
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
  /** RLPx peers: what our Hello says, the session's timers and limits, how many RLPx nodes are remembered. */
  rlpx?: RlpxUpgradeOptions
  gater?: ConnectionGater
}

export interface UpgradeOptions {
  signal?: AbortSignal
  /** Where the socket leads; read from a net.Socket when omitted. */
  remoteAddr?: HostPort
}

/**
 * Turns a raw socket into a Connection: ECIES secure channel, then either
 * `/mplex/6.7.0` agreed with multistream-select (the initiator proposes) and
 * the mplex muxer, or, with an RLPx peer, the devp2p base protocol
 * (RlpxMuxer: Hello, snappy, Ping/Pong, Disconnect) carrying each shared
 * capability as a stream. Which one:
 *
 * - inbound, the first frame after ECIES decides (`classifyFirstFrame`: an
 *   RLPx Hello or Disconnect, else multistream-select);
 * - outbound, a node remembered as RLPx (`speaksRlpx`) is dialed as RLPx;
 *   any other gets multistream-select, and one that answers with a Hello
 *   fails with LegacyRlpxPeerError and is remembered as RLPx, for
 *   `Transport.dial` to redial at once (docs/ARCHITECTURE.md says why it
 *   cannot go on on the same connection).
 *
 * The whole upgrade is bounded by `handshakeTimeoutMs` and the caller's
 * signal, the Hello exchange included; on any failure the socket is
 * destroyed (an RLPx session first sends its Disconnect and destroys it
 * within its disconnectTimeoutMs) and a typed UpgradeError (or the abort
 * reason) is thrown.
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
  private readonly rlpxOptions: ResolvedRlpxUpgradeOptions
  /** Node ids known to speak RLPx only (bounded, least recently used dropped). */
  private readonly rlpxPeers: RlpxPeerMemory

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
    this.rlpxOptions = resolveRlpxUpgradeOptions(opts.rlpx ?? {}, this.localId)
    this.rlpxPeers = new RlpxPeerMemory(this.rlpxOptions.maxRememberedPeers)
  }

  /** True when `remoteId` is remembered as an RLPx node: a dial to it runs RLPx straight after ECIES. */
  speaksRlpx(remoteId: Uint8Array): boolean {
    return this.rlpxPeers.has(remoteId)
  }

  /** Dial `remoteId` as RLPx from now on (a node known from elsewhere to speak RLPx only), within the memory's bound. */
  rememberRlpx(remoteId: Uint8Array): void {
    this.rlpxPeers.add(remoteId)
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
    /** Set once an RLPx session runs on the channel: from then on it owns the teardown (Disconnect first). */
    let rlpxStarted = false
    log('%s upgrade %s:%d', direction, remoteAddr.host, remoteAddr.port)
    try {
      if (expectedId !== undefined && equalBytes(expectedId, this.localId)) throw new SelfConnectionError()
      const deadlineError = (): Error => new UpgradeTimeoutError(timeoutMs, phase, authenticated)
      const conn = await withDeadline(timeoutMs, deadlineError, [opts.signal], async (signal) => {
        const secured = await this.secure(socket, expectedId, signal)
        // Same for the secure channel: destroying the socket below makes it emit 'error'.
        secured.stream.on('error', onSocketError)
        channel = secured.stream
        this.checkRemote(secured.remoteId, expectedId)
        authenticated = secured.remoteId
        const denied = direction === 'inbound' ? this.deniedInbound(secured.remoteId, remoteAddr) : undefined
        phase = 'muxer'
        const carrier = await this.chooseCarrier(secured, direction, signal)
        if (denied !== undefined) {
          // Only once the first frame said RLPx may a Disconnect frame go out: a modular peer would read it as an RLPx answer.
          if (carrier.rlpx) {
            rlpxStarted = true
            refuseBeforeHello(secured.stream, denied.reason, this.rlpxOptions.session())
          }
          throw denied
        }
        let rlpx: RlpxMuxer | undefined
        if (carrier.rlpx) {
          phase = 'hello'
          const capabilities = this.rlpxCapabilities(secured.remoteId)
          rlpxStarted = true
          rlpx = await this.rlpxHandshake(secured, direction, signal, capabilities, carrier.firstFrame)
        }
        const muxed = rlpx !== undefined ? secured.stream : await this.selectMuxer(secured.stream, direction, signal, secured.remoteId)
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
          rlpx,
        })
      })
      upgraded = true
      log('%s upgraded %s:%d → %s (%s, %s)', direction, remoteAddr.host, remoteAddr.port, conn.id, shortId(conn.remoteId), conn.multiplexer)
      return conn
    } catch (err) {
      // A failed RLPx session has sent its Disconnect and destroys the channel itself once it went out.
      if (!rlpxStarted) socket.destroy()
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

  private async secure(socket: Duplex, remoteId: Uint8Array | undefined, signal: AbortSignal): Promise<SecureConnection> {
    const opts = { privateKey: this.privateKey }
    try {
      return remoteId === undefined ? await handshakeInbound(socket, opts, signal) : await handshakeOutbound(socket, { ...opts, remoteId }, signal)
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) => new EncryptionFailedError(cause))
    }
  }

  /**
   * RLPx or multistream-select. Inbound: the first frame says, and is handed
   * back to whichever runs. Outbound: what we remember of the node. A node
   * that dialed us with either is remembered that way.
   */
  private async chooseCarrier(secured: SecureConnection, direction: Direction, signal: AbortSignal): Promise<{ rlpx: boolean; firstFrame?: Buffer }> {
    const { stream, remoteId } = secured
    if (direction === 'outbound') return { rlpx: this.rlpxPeers.has(remoteId) }
    let first: Buffer
    try {
      first = await readFirstFrame(stream, { signal })
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) => new MuxerNegotiationError(cause, remoteId))
    }
    if (classifyFirstFrame(first) === 'rlpx') {
      this.rlpxPeers.add(remoteId)
      return { rlpx: true, firstFrame: first }
    }
    this.rlpxPeers.delete(remoteId)
    stream.readBytes([first])
    return { rlpx: false }
  }

  /** Our capabilities: the Registrar's protocols that are RLPx capabilities (`/eth/69/1.0.0` is eth/69). */
  private rlpxCapabilities(remoteId: Uint8Array): Capability[] {
    const capabilities = capabilitiesForProtocols(this.registrar.getProtocols())
    if (capabilities.length > 0) return capabilities
    throw new RlpxHandshakeFailedError(new RlpxNoSharedCapabilityError('no RLPx capability registered (no /eth/N/1.0.0 handler)'), remoteId)
  }

  /** The devp2p Hello exchange. */
  private async rlpxHandshake(
    secured: SecureConnection,
    direction: Direction,
    signal: AbortSignal,
    capabilities: Capability[],
    firstFrame: Buffer | undefined,
  ): Promise<RlpxMuxer> {
    const { stream, remoteId } = secured
    try {
      return await RlpxMuxer.handshake(stream, { ...this.rlpxOptions.session(), localId: this.localId, remoteId, direction, capabilities, firstFrame, signal })
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) =>
        cause instanceof RlpxError ? new RlpxHandshakeFailedError(cause, remoteId) : new MuxerNegotiationError(cause, remoteId),
      )
    }
  }

  private async selectMuxer(stream: Duplex, direction: Direction, signal: AbortSignal, remoteId: Uint8Array): Promise<Duplex> {
    const protocols = [MPLEX_PROTOCOL_ID]
    try {
      const negotiated = direction === 'outbound' ? selectProtocol(stream, protocols, signal) : handleProtocol(stream, protocols, signal)
      return (await negotiated).stream
    } catch (err) {
      throw upgradeFailure(err, signal, (cause) => {
        if (!isNotMultistream(cause) || direction !== 'outbound') return new MuxerNegotiationError(cause, remoteId)
        // The answer to our proposal was an RLPx Hello: an RLPx-only node (Transport.dial redials it as RLPx).
        this.rlpxPeers.add(remoteId)
        return new LegacyRlpxPeerError(cause, remoteId)
      })
    }
  }

  private checkRemote(remoteId: Uint8Array, expectedId: Uint8Array | undefined): void {
    if (expectedId !== undefined) {
      // The secure channel authenticates the id we asked for; a mismatch is a crypto-layer bug.
      if (!equalBytes(remoteId, expectedId)) {
        throw new EncryptionFailedError(new Error(`authenticated ${shortId(remoteId)}, expected ${shortId(expectedId)}`))
      }
      return
    }
    if (equalBytes(remoteId, this.localId)) throw new SelfConnectionError()
  }

  /** The gater's verdict on an authenticated inbound peer: the refusal to throw, or undefined to admit. */
  private deniedInbound(remoteId: Uint8Array, remoteAddr: HostPort): PeerDeniedError | undefined {
    const verdict = this.gater.denyInboundPeer?.(remoteId, remoteAddr)
    if (verdict === undefined || verdict === false) return undefined
    return new PeerDeniedError(remoteId, verdict === true ? DisconnectReason.USELESS_PEER : verdict)
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
