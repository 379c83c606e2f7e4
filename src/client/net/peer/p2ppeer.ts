import debug from 'debug'

import { DisconnectReason } from '../../../p2p'
import { PeerError } from '../../errors'
import { Event, type StreamInfo } from '../../types'
import { describeConnectionEnd, describeDisconnect } from '../disconnect'
import { NoSharedVersionError, PeerDisconnectedError } from '../protocol/errors'
import { StreamEthProtocol } from '../protocol/streamethprotocol'

import { type ByteCounts, Peer, peerIdHex } from './peer'

import type { Config } from '../../config'
import { type Connection, type MuxedStream, ProtocolNotSupportedError } from '../../../p2p'
import type { Protocol } from '../protocol/protocol'
import type { StreamSender } from '../protocol/streamsender'

const log = debug('client:p2ppeer')

/**
 * How long closeStream() lets a stream finish gracefully (our Close sent, the
 * remote's awaited) before resetting it: a remote that never closes its half
 * must not keep the stream, or the caller, waiting.
 */
export const DEFAULT_STREAM_CLOSE_TIMEOUT_MS = 5_000

export interface P2PPeerOptions {
  config: Config
  /** The upgraded connection this peer wraps (one peer per connection). */
  connection: Connection
  /** Protocols to bind on connect(); each must be a StreamEthProtocol. */
  protocols: Protocol[]
}

interface StreamWaiter {
  resolve: (stream: MuxedStream) => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/** `direction:id`: mplex ids are per initiator, so an id alone can name two streams. */
export function streamKey(stream: MuxedStream): string {
  return `${stream.direction}:${String(stream.id)}`
}

/**
 * A peer on the modular P2P stack: one upgraded Connection, carried by mplex
 * or by an RLPx session (`connection.multiplexer`), the same either way. The
 * dialing side opens the one long-lived ETH stream (`connection.newStream`
 * with the eth ids, highest first: over RLPx, the eth capability the Hellos
 * agreed on); the listening side receives it through the Registrar (the
 * server routes it here with acceptEthStream, its only way in). Either way
 * the stream is wrapped in a StreamSender and bound through the shared
 * Protocol. Every stream of the connection is reported on the bus
 * (STREAM_OPENED / STREAM_CLOSED): ours when opened, the remote's from the
 * connection's 'stream' event.
 *
 * The ETH stream ending ends the peer: the connection is closed, so the
 * server reports PEER_DISCONNECTED and the pool drops the peer.
 */
export class P2PPeer extends Peer {
  readonly connection: Connection
  private ethStream?: MuxedStream
  private sender?: StreamSender
  private waiter?: StreamWaiter
  private connecting?: Promise<void>
  /** Every protocol is bound; from here on the ETH stream closing ends the peer. */
  private bound = false
  private closing?: Promise<void>
  private reason?: string

  private readonly onInboundStream = (stream: MuxedStream) => this.report(stream)
  private readonly onStreamError = (err: Error, stream: MuxedStream) =>
    this.config.events.emit(Event.STREAM_ERROR, err, this.streamInfo(stream), this)
  private readonly onConnectionClose = (err?: Error) => this.handleConnectionClose(err)

  constructor(opts: P2PPeerOptions) {
    const { connection } = opts
    super({
      config: opts.config,
      id: peerIdHex(connection.remoteId),
      address: `${connection.remoteAddr.host}:${connection.remoteAddr.port}`,
      inbound: connection.direction === 'inbound',
      transport: 'p2p',
      protocols: opts.protocols,
    })
    this.connection = connection
    connection.on('stream', this.onInboundStream)
    connection.on('streamError', this.onStreamError)
    // 'close' fires exactly once (as do the streams' below); on() spares a once() wrapper per listener.
    connection.on('close', this.onConnectionClose)
    if (connection.status === 'closed') queueMicrotask(() => this.handleConnectionClose(connection.closeReason))
  }

  /** True once disconnect() ran or the connection went away. */
  get closed(): boolean {
    return this.reason !== undefined || this.connection.status !== 'open'
  }

  /** Why the peer went away: the reason given to disconnect(), else the connection's. */
  get disconnectReason(): string | undefined {
    return this.reason
  }

  /** The remote's client id from its RLPx Hello; undefined on mplex, which has none. */
  override get clientName(): string | undefined {
    return this.connection.remoteClientId
  }

  /** Bytes on the connection (ciphertext, RLPx frames and mplex framing included); kept after it closed. */
  override get bytes(): ByteCounts {
    const { bytesIn, bytesOut } = this.connection.stats
    return { bytesIn, bytesOut }
  }

  /** The StreamSender of the bound ETH session (traffic statistics). */
  get ethSender(): StreamSender | undefined {
    return this.sender
  }

  /**
   * Binds every protocol: the dialer opens the ETH stream, the listener waits
   * (at most `statusTimeoutMs`) for the remote to open it; then the Status
   * handshake. Rejects with the reason; the caller disconnects.
   */
  connect(): Promise<void> {
    this.connecting ??= this.bindAll()
    return this.connecting
  }

  /** Opens a stream negotiating the first of `protocols` the remote supports. */
  async openStream(protocols: string | string[]): Promise<MuxedStream> {
    if (this.closed) throw new PeerDisconnectedError(`${this.toString()} is disconnected`)
    const stream = await this.connection.newStream(protocols)
    this.report(stream)
    return stream
  }

  /** Every open stream of the connection, both directions. */
  getStreams(): MuxedStream[] {
    return this.connection.streams
  }

  /**
   * Closes one stream gracefully (reset after DEFAULT_STREAM_CLOSE_TIMEOUT_MS).
   * `streamId` is a streamKey() (`outbound:3`), or a bare stream id plus its
   * direction when both directions use that id. Resolves false if no stream
   * matches. On RLPx a capability stream cannot close alone: this
   * disconnects the session (DISCONNECT_REQUESTED).
   */
  async closeStream(streamId: string | number | bigint, direction?: 'inbound' | 'outbound'): Promise<boolean> {
    const stream = this.findStream(streamId, direction)
    if (stream === undefined) return false
    if (stream.destroyed) return true
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => stream.reset(), DEFAULT_STREAM_CLOSE_TIMEOUT_MS)
      stream.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      stream.end()
      // Nobody may be reading an idle stream; drain it so the remote's Close is seen.
      if (stream.listenerCount('data') === 0 && !stream.readableFlowing) stream.resume()
    })
    return true
  }

  /**
   * Receives an ETH stream the remote opened (routed by the server from the
   * Registrar). Only the listening side accepts one, once per connection;
   * anything else is reset.
   */
  acceptEthStream(stream: MuxedStream): void {
    let refusal: string | undefined
    if (!this.inbound) refusal = 'the remote opened an eth stream on a connection we dialed'
    else if (this.ethStream !== undefined) refusal = 'a second eth stream on one connection'
    else if (this.closed) refusal = 'peer is disconnecting'
    if (refusal !== undefined) {
      log('%s: resetting eth stream %s: %s', this.toString(), streamKey(stream), refusal)
      stream.reset()
      return
    }
    this.ethStream = stream
    this.watchEthStream(stream)
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) {
      clearTimeout(waiter.timer)
      waiter.resolve(stream)
    }
  }

  /**
   * Closes the connection (every stream with it). Idempotent; resolves once
   * it is closed. An RLPx remote is sent Disconnect with `reason`; mplex has
   * no Disconnect message, so there `reason` reaches the remote as a closed
   * connection. Our logs and events carry its text either way.
   */
  disconnect(reason: DisconnectReason = DisconnectReason.DISCONNECT_REQUESTED, detail?: string): Promise<void> {
    // A connection already ending for its own reason (an RLPx Disconnect either way, a lost socket) keeps that reason.
    const ended = this.connection.closeReason
    this.reason ??= ended !== undefined ? describeConnectionEnd(ended) : describeDisconnect(reason, detail)
    if (this.closing !== undefined) return this.closing
    log('disconnecting %s: %s', this.toString(), this.reason)
    // Callers fire and forget (bans, refusals, stop). A close that fails has aborted the
    // connection instead, and its 'close' event still reports the end to the server.
    this.closing = this.connection.close(reason).catch((err: unknown) => log('closing %s failed: %s', this.toString(), (err as Error).message))
    return this.closing
  }

  private async bindAll(): Promise<void> {
    for (const protocol of this.protocols) {
      if (!(protocol instanceof StreamEthProtocol)) {
        throw new PeerError('ERR_PEER_UNSUPPORTED_PROTOCOL', `P2P peers carry eth over streams only, not ${protocol.name} (${protocol.constructor.name})`)
      }
      const stream = this.inbound ? await this.awaitEthStream() : await this.openEthStream(protocol)
      const sender = protocol.createSender(stream, stream.protocol)
      this.sender = sender
      await this.bindProtocol(protocol, sender)
    }
    this.bound = true
    if (this.ethStream?.destroyed === true) void this.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'eth stream closed')
  }

  private async openEthStream(protocol: StreamEthProtocol): Promise<MuxedStream> {
    let stream: MuxedStream
    try {
      stream = await this.openStream(protocol.protocolIds)
    } catch (err) {
      // The connection closing under the negotiation is a disconnect, not a fault of the remote.
      if (this.closed) throw new PeerDisconnectedError(`${this.toString()} disconnected while opening the eth stream`, { cause: err })
      // `na` to every /eth/N/1.0.0 we offer: multistream-select does not say what the remote speaks instead.
      if (err instanceof ProtocolNotSupportedError) throw new NoSharedVersionError(protocol.versions, undefined)
      throw err
    }
    this.ethStream = stream
    this.watchEthStream(stream)
    return stream
  }

  private awaitEthStream(): Promise<MuxedStream> {
    if (this.ethStream !== undefined) return Promise.resolve(this.ethStream)
    if (this.closed) return Promise.reject(new PeerDisconnectedError(`${this.toString()} disconnected before opening an eth stream`))
    const ms = this.config.statusTimeoutMs
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        reject(new PeerError('ERR_PEER_NO_ETH_STREAM', `${this.toString()} opened no eth stream within ${ms} ms`))
      }, ms)
      this.waiter = { resolve, reject, timer }
    })
  }

  /**
   * The session is the ETH stream: once bound, its end is the connection's end.
   * (Before that a failing bind rejects connect(), and the caller disconnects with the reason.)
   */
  private watchEthStream(stream: MuxedStream): void {
    stream.on('close', () => {
      if (!this.bound || this.closed) return
      void this.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'eth stream closed')
    })
  }

  /** STREAM_OPENED now, STREAM_CLOSED when the stream goes. Called once per stream. */
  private report(stream: MuxedStream): void {
    const info = this.streamInfo(stream)
    this.config.events.emit(Event.STREAM_OPENED, info)
    const onClose = (): void => void this.config.events.emit(Event.STREAM_CLOSED, info)
    if (stream.closed) onClose()
    else stream.on('close', onClose)
  }

  private streamInfo(stream: MuxedStream): StreamInfo {
    return { connectionId: this.connection.id, streamId: streamKey(stream), protocol: stream.protocol ?? '', direction: stream.direction }
  }

  private findStream(streamId: string | number | bigint, direction?: 'inbound' | 'outbound'): MuxedStream | undefined {
    const wanted = String(streamId)
    const streams = this.connection.streams
    const byKey = streams.find((s) => streamKey(s) === wanted)
    if (byKey !== undefined) return byKey
    const matches = streams.filter((s) => String(s.id) === wanted && (direction === undefined || s.direction === direction))
    if (matches.length > 1) {
      throw new PeerError('ERR_PEER_AMBIGUOUS_STREAM', `stream id ${wanted} exists in both directions; pass the direction or a streamKey`)
    }
    return matches[0]
  }

  private handleConnectionClose(err?: Error): void {
    this.connection.off('stream', this.onInboundStream)
    this.connection.off('streamError', this.onStreamError)
    this.reason ??= describeConnectionEnd(err)
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) {
      clearTimeout(waiter.timer)
      waiter.reject(new PeerDisconnectedError(`${this.toString()} disconnected before opening an eth stream`, { cause: err }))
    }
  }
}
