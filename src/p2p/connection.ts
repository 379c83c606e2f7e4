import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import debug from 'debug'
import { P2PError, describeError } from './errors'
import { type ConnectionMuxer, MplexConnectionMuxer, RlpxConnectionMuxer } from './connection-muxer'
import {
  type ConnectionInit,
  type ConnectionStats,
  type ConnectionStatus,
  DEFAULT_CONNECTION_CLOSE_TIMEOUT_MS,
  DEFAULT_STREAM_NEGOTIATION_TIMEOUT_MS,
  type Direction,
  type HostPort,
  type NewStreamOptions,
} from './connection-types'
import { MssUnsupportedProtocolError } from './multistream'
import type { MuxedStream } from './muxed-stream'
import { type Registrar, validateProtocolId } from './registrar'
import { DisconnectReason, RlpxCapabilityNotSharedError } from './rlpx'
import {
  ConnectionClosedError,
  type ConnectionError,
  ConnectionCloseTimeoutError,
  ConnectionLostError,
  ProtocolNotSupportedError,
  StreamHandlerError,
  StreamNegotiationError,
  StreamNegotiationTimeoutError,
  TooManyStreamsError,
} from './stack-errors'
import { Lifetime, abortReason, throwIfAborted } from './util/abort'
import { shortId } from './util/bytes'
import { Latch } from './util/events'
import { assertTimeout, withDeadline } from './util/timeout'

const log = debug('p2p:connection')

export * from './connection-types'
export type { MuxerOptions } from './connection-muxer'

let nextConnectionId = 1

/**
 * One upgraded connection: a muxer over the secure channel, mplex or an RLPx
 * session (`multiplexer`). Inbound streams are matched against the Registrar
 * (negotiated with multistream-select on mplex; an RLPx capability stream
 * comes with its protocol) and handed to their handler; `newStream` opens
 * outbound ones.
 *
 * State machine: 'open' → 'closing' (close()/abort() called, or the socket
 * is going away) → 'closed' (the socket emitted 'close'). 'close' is emitted
 * exactly once, on entering 'closed', with the reason when the end was not
 * a clean one.
 *
 * Events: 'stream' (stream: MuxedStream) — an inbound stream after
 * negotiation, before its handler runs; 'streamError' (err: ConnectionError,
 * stream: MuxedStream) — an inbound stream that failed and was reset: its
 * negotiation (StreamNegotiationError, StreamNegotiationTimeoutError), its
 * protocol's inbound limit (TooManyStreamsError) or its handler
 * (StreamHandlerError); 'close' (reason?: Error).
 */
export class Connection extends EventEmitter {
  readonly id: string
  readonly remoteId: Uint8Array
  readonly remoteAddr: HostPort
  readonly direction: Direction

  private _status: ConnectionStatus = 'open'
  private failure: Error | undefined
  private readonly socket: Duplex
  private readonly stream: Duplex
  private readonly muxer: ConnectionMuxer
  private readonly registrar: Registrar
  private readonly negotiationTimeoutMs: number
  private readonly closeTimeoutMs: number
  /** Ends when the connection starts closing: cancels every pending negotiation. */
  private readonly lifetime = new Lifetime()
  private readonly socketClosed = new Latch()
  private readonly streamClosed = new Latch()
  /** Opens once 'closed' is reached and 'close' was emitted. */
  private readonly finalized = new Latch()
  private closing: Promise<void> | undefined
  private streamsOpened = 0
  private readonly openedAt = Date.now()

  constructor(init: ConnectionInit) {
    super()
    this.id = `${init.direction === 'inbound' ? 'in' : 'out'}-${nextConnectionId++}`
    this.remoteId = init.remoteId
    this.remoteAddr = { ...init.remoteAddr }
    this.direction = init.direction
    this.socket = init.socket
    this.stream = init.stream
    this.registrar = init.registrar
    this.negotiationTimeoutMs = init.streamNegotiationTimeoutMs ?? DEFAULT_STREAM_NEGOTIATION_TIMEOUT_MS
    this.closeTimeoutMs = init.closeTimeoutMs ?? DEFAULT_CONNECTION_CLOSE_TIMEOUT_MS
    assertTimeout(this.negotiationTimeoutMs, 'streamNegotiationTimeoutMs')
    assertTimeout(this.closeTimeoutMs, 'closeTimeoutMs')
    this.socket.on('error', this.onLayerError)
    this.stream.on('error', this.onLayerError)
    // Each 'close' fires once, so plain listeners do (once() would add a wrapper per listener per connection).
    if (this.socket.closed) this.socketClosed.open()
    else this.socket.on('close', this.onSocketClose)
    if (this.stream.closed) this.streamClosed.open()
    else this.stream.on('close', this.onStreamClose)

    const onStream = (s: MuxedStream): void => this.onInboundStream(s)
    this.muxer = init.rlpx === undefined ? new MplexConnectionMuxer(this.stream, init.muxer ?? {}, onStream) : new RlpxConnectionMuxer(init.rlpx, onStream)
    // A protocol violation, a Disconnect or the muxer's own close timeout ends up here with its typed error.
    this.muxer.onClose(this.onMuxerClose)
    this.finalizeOnceBothClosed()
    log('%s open %s %s:%d peer %s', this.id, this.direction, this.remoteAddr.host, this.remoteAddr.port, shortId(this.remoteId))
  }

  get status(): ConnectionStatus {
    return this._status
  }

  /**
   * Set when the connection ended (or is ending) for another reason than our
   * clean close: an RLPx session knows its reason as soon as it starts to end
   * (a Disconnect received or sent), before the socket has closed.
   */
  get closeReason(): Error | undefined {
    return this.failure ?? this.muxer.failure
  }

  get streams(): MuxedStream[] {
    return this.muxer.streams
  }

  /** What carries the streams: `'/mplex/6.7.0'` (MPLEX_PROTOCOL_ID) or `'rlpx'` (RLPX_MULTIPLEXER). */
  get multiplexer(): string {
    return this.muxer.multiplexer
  }

  /** The remote's client id from its RLPx Hello ("Geth/v1.14.0/..."); undefined on mplex. */
  get remoteClientId(): string | undefined {
    return this.muxer.remoteClientId
  }

  get stats(): ConnectionStats {
    const counters = this.socket as Duplex & { bytesRead?: unknown; bytesWritten?: unknown }
    return {
      bytesIn: typeof counters.bytesRead === 'number' ? counters.bytesRead : 0,
      bytesOut: typeof counters.bytesWritten === 'number' ? counters.bytesWritten : 0,
      streamsOpened: this.streamsOpened,
      openedAt: this.openedAt,
    }
  }

  /**
   * Opens a stream for the first protocol of `protocols` the remote supports
   * (in order): an mplex stream negotiated with multistream-select, or the
   * RLPx session's stream of that capability. Protocols already at their
   * `maxOutboundStreams` on this connection are not proposed; when none is
   * left this throws TooManyStreamsError without opening a stream. None
   * supported: ProtocolNotSupportedError.
   */
  async newStream(protocols: string | string[], opts: NewStreamOptions = {}): Promise<MuxedStream> {
    const wanted = typeof protocols === 'string' ? [protocols] : [...protocols]
    if (wanted.length === 0) throw new TypeError('newStream needs at least one protocol')
    wanted.forEach(validateProtocolId)
    if (this._status !== 'open') throw new ConnectionClosedError(`connection ${this.id} is ${this._status}`)
    throwIfAborted(opts.signal, 'newStream')
    const proposals = wanted.filter((p) => this.countStreams(p, 'outbound') < this.registrar.getLimits(p).maxOutboundStreams)
    if (proposals.length === 0) {
      const first = wanted[0]!
      throw new TooManyStreamsError(first, 'outbound', this.registrar.getLimits(first).maxOutboundStreams)
    }

    const timeoutMs = opts.negotiationTimeoutMs ?? this.negotiationTimeoutMs
    let opened: { stream: MuxedStream; protocol: string }
    try {
      opened = await this.negotiate(timeoutMs, opts.signal, (signal) => this.muxer.openStream(proposals, signal, (s) => this.watchStream(s)))
    } catch (err) {
      throw this.negotiationFailure(err, proposals, opts.signal)
    }
    const { stream, protocol } = opened
    const limit = this.registrar.getLimits(protocol).maxOutboundStreams
    // Concurrent newStream calls may have filled the limit while this one negotiated.
    if (this.countStreams(protocol, 'outbound', stream) >= limit) {
      resetStream(stream)
      throw new TooManyStreamsError(protocol, 'outbound', limit)
    }
    stream.protocol = protocol
    this.streamsOpened++
    log('%s outbound stream %s: %s', this.id, String(stream.id), protocol)
    return stream
  }

  /**
   * Graceful close: close the muxer, end the secure channel, wait for the
   * socket. Bounded by the close timeout. `reason` is the Disconnect an RLPx
   * remote gets (default DISCONNECT_REQUESTED); mplex has no such message.
   */
  close(reason: DisconnectReason = DisconnectReason.DISCONNECT_REQUESTED): Promise<void> {
    if (this._status === 'closed') return Promise.resolve()
    if (this.closing !== undefined) return this.closing
    this._status = 'closing'
    this.lifetime.end(new ConnectionClosedError(`connection ${this.id} is closing`))
    log('%s closing', this.id)
    this.closing = this.closeGracefully(reason)
    return this.closing
  }

  /**
   * Immediate teardown: every stream is destroyed; 'close' carries `err`. On
   * mplex the socket is destroyed at once; an RLPx session first writes its
   * Disconnect (reason from `err`), then destroys the channel within its
   * disconnectTimeoutMs.
   */
  abort(err: Error): void {
    if (this._status === 'closed') return
    this._status = 'closing'
    this.noteFailure(err)
    this.lifetime.end(err)
    log('%s abort: %s', this.id, describeError(err))
    this.muxer.abort(err)
    if (!this.muxer.endsChannel) this.socket.destroy()
  }

  private async closeGracefully(reason: DisconnectReason): Promise<void> {
    const timer = setTimeout(() => {
      const err = new ConnectionCloseTimeoutError(this.closeTimeoutMs)
      this.noteFailure(err)
      this.muxer.abort(err)
      this.socket.destroy()
    }, this.closeTimeoutMs)
    try {
      const muxerClosed = this.muxer.close(reason).catch((err: unknown) => {
        log('%s muxer close failed: %s', this.id, describeError(err))
      })
      await Promise.race([muxerClosed, this.socketClosed.wait()])
      if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end()
      await this.finalized.wait()
    } finally {
      clearTimeout(timer)
    }
  }

  private finalize(): void {
    if (this._status === 'closed') return
    this._status = 'closed'
    this.lifetime.end(new ConnectionClosedError(`connection ${this.id} closed`))
    // Safety net: the muxer normally finished when the channel closed; streams cannot outlive the socket.
    if (!this.muxer.closed) {
      this.muxer.abort(this.closeReason ?? new ConnectionClosedError(`connection ${this.id} closed`))
    }
    log('%s closed%s', this.id, this.closeReason === undefined ? '' : `: ${describeError(this.closeReason)}`)
    try {
      this.emit('close', this.closeReason)
    } finally {
      // A throwing 'close' listener must not leave close() waiting forever.
      this.finalized.open()
    }
  }

  private readonly onLayerError = (err: Error): void => this.noteFailure(err)

  // Either layer going away takes the other with it, whatever the lower layer's own wiring does.
  private readonly onSocketClose = (): void => {
    if (!this.stream.destroyed) this.stream.destroy()
    this.socketClosed.open()
    this.finalizeOnceBothClosed()
  }

  private readonly onStreamClose = (): void => {
    if (!this.socket.destroyed) this.socket.destroy()
    this.streamClosed.open()
    this.finalizeOnceBothClosed()
  }

  private readonly onMuxerClose = (err?: Error): void => {
    if (err !== undefined) this.noteFailure(err)
    else if (this._status === 'open') this._status = 'closing'
  }

  /**
   * 'closed' means both the socket and the secure channel above it are gone.
   * Deferred past the current 'close' emit so the muxer, which watches the
   * channel too, has finished its own teardown first.
   */
  private finalizeOnceBothClosed(): void {
    if (this.socketClosed.isOpen && this.streamClosed.isOpen) queueMicrotask(() => this.finalize())
  }

  /** Records the first failure as the close reason (socket errors are wrapped, typed ones kept). */
  private noteFailure(err: Error): void {
    if (this.failure !== undefined || this._status === 'closed') return
    this.failure = err instanceof P2PError ? err : new ConnectionLostError(err)
    if (this._status === 'open') this._status = 'closing'
  }

  private onInboundStream(stream: MuxedStream): void {
    this.watchStream(stream)
    if (this._status !== 'open') {
      resetStream(stream)
      return
    }
    void this.acceptStream(stream)
  }

  private async acceptStream(stream: MuxedStream): Promise<void> {
    // Protocols at their inbound limit are not offered: the remote gets `na`.
    const offered = this.registrar
      .getProtocols()
      .filter((p) => this.countStreams(p, 'inbound', stream) < this.registrar.getLimits(p).maxInboundStreams)
    let protocol: string
    try {
      protocol = await this.negotiate(this.negotiationTimeoutMs, undefined, (signal) => this.muxer.acceptStream(stream, offered, signal))
    } catch (err) {
      // A connection going away ends its negotiations: that is its close, not a stream failure.
      if (this.lifetime.ended || this._status !== 'open') {
        log('%s inbound stream %s: negotiation ended by the connection closing', this.id, String(stream.id))
        resetStream(stream)
      } else {
        this.streamFailed(stream, err instanceof StreamNegotiationTimeoutError ? err : new StreamNegotiationError(err))
      }
      return
    }
    const record = this.registrar.getHandler(protocol)
    if (record === undefined || this._status !== 'open') {
      log('%s inbound stream %s for %s refused (no handler any more, or closing)', this.id, String(stream.id), protocol)
      resetStream(stream)
      return
    }
    const limit = record.limits.maxInboundStreams
    // Concurrent negotiations may have filled the limit since this one was offered the protocol.
    if (this.countStreams(protocol, 'inbound', stream) >= limit) {
      this.streamFailed(stream, new TooManyStreamsError(protocol, 'inbound', limit))
      return
    }
    stream.protocol = protocol
    this.streamsOpened++
    log('%s inbound stream %s: %s', this.id, String(stream.id), protocol)
    try {
      this.emit('stream', stream)
      const result = record.handler(stream, this)
      if (result instanceof Promise) result.catch((err: unknown) => this.onHandlerError(stream, protocol, err))
    } catch (err) {
      this.onHandlerError(stream, protocol, err)
    }
  }

  private onHandlerError(stream: MuxedStream, protocol: string, cause: unknown): void {
    this.streamFailed(stream, new StreamHandlerError(protocol, cause))
  }

  /** Resets an inbound stream that failed and reports it ('streamError'), so it can be counted. */
  private streamFailed(stream: MuxedStream, err: ConnectionError): void {
    log('%s inbound stream %s: %s', this.id, String(stream.id), describeError(err))
    resetStream(stream)
    this.emit('streamError', err, stream)
  }

  /**
   * Runs a negotiation under one signal: `timeoutMs`, the caller's signal and
   * the connection's lifetime. The negotiation fails with whichever fired
   * first's reason (and destroys the stream).
   */
  private async negotiate<T>(timeoutMs: number, signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      const deadlineError = (): Error => new StreamNegotiationTimeoutError(timeoutMs)
      return await withDeadline(timeoutMs, deadlineError, [signal, this.lifetime.acquire()], run)
    } finally {
      this.lifetime.release()
    }
  }

  /** Our typed timeout/abort/closed errors pass through; multistream-select failures are classified. */
  private negotiationFailure(err: unknown, proposals: readonly string[], signal: AbortSignal | undefined): Error {
    if (err instanceof StreamNegotiationTimeoutError) return err
    if (signal?.aborted === true) return abortReason(signal, 'newStream')
    if (this.lifetime.ended) {
      return err instanceof ConnectionClosedError
        ? err
        : new ConnectionClosedError(`connection ${this.id} closed during negotiation`, { cause: err })
    }
    if (err instanceof StreamNegotiationError) return err
    if (err instanceof MssUnsupportedProtocolError || err instanceof RlpxCapabilityNotSharedError) return new ProtocolNotSupportedError(proposals, err)
    return new StreamNegotiationError(err)
  }

  /** Streams of `protocol` in `direction`, not counting `except` (the stream being admitted). */
  private countStreams(protocol: string, direction: Direction, except?: MuxedStream): number {
    let n = 0
    for (const s of this.muxer.streams) if (s !== except && s.protocol === protocol && s.direction === direction) n++
    return n
  }

  /**
   * A stream reset by the remote emits 'error'; without a listener that would
   * throw out of the event loop. Users add their own listeners; this one
   * only logs, so a misbehaving peer can never crash the process.
   */
  private watchStream(stream: MuxedStream): void {
    stream.on('error', (err: Error) => log('%s stream %s error: %s', this.id, String(stream.id), describeError(err)))
  }
}

function resetStream(stream: MuxedStream): void {
  if (!stream.destroyed) stream.reset()
}

