import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import debug from 'debug'
import { P2PError, describeError } from './errors'
import { MssUnsupportedProtocolError } from './multistream'
import { handleProtocol } from './multistream/handle'
import { selectProtocol } from './multistream/select'
import { MplexMuxer, type MplexMuxerOptions, type MplexStream } from './muxer'
import { type Registrar, validateProtocolId } from './registrar'
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

/** A stream whose protocol is not agreed on after this long is reset (slow-loris guard). */
export const DEFAULT_STREAM_NEGOTIATION_TIMEOUT_MS = 10_000
/**
 * How long a graceful close may wait for the remote to finish (flush, FIN)
 * before the socket is destroyed; a peer that never reads must not pin it.
 */
export const DEFAULT_CONNECTION_CLOSE_TIMEOUT_MS = 5_000

export type ConnectionStatus = 'open' | 'closing' | 'closed'
export type Direction = 'inbound' | 'outbound'

export interface HostPort {
  host: string
  port: number
}

/** Options passed through to the MplexMuxer of every connection (the Connection supplies `onStream`). */
export type MuxerOptions = Omit<MplexMuxerOptions, 'onStream'>

export interface ConnectionInit {
  remoteId: Uint8Array
  remoteAddr: HostPort
  direction: Direction
  /** The raw transport socket: its byte counters feed `stats`; it is destroyed last. */
  socket: Duplex
  /** The secured, muxer-negotiated Duplex the mplex muxer runs over. */
  stream: Duplex
  registrar: Registrar
  streamNegotiationTimeoutMs?: number
  closeTimeoutMs?: number
  muxer?: MuxerOptions
}

export interface NewStreamOptions {
  signal?: AbortSignal
  /** Overrides the connection's stream negotiation timeout for this stream. */
  negotiationTimeoutMs?: number
}

export interface ConnectionStats {
  /** Bytes read from / written to the TCP socket (ciphertext, framing included). */
  readonly bytesIn: number
  readonly bytesOut: number
  /** Streams that finished protocol negotiation, both directions. */
  readonly streamsOpened: number
  /** `Date.now()` when the upgrade finished. */
  readonly openedAt: number
}

let nextConnectionId = 1

/**
 * One upgraded connection: an mplex muxer over the secure channel. Inbound
 * streams are negotiated against the Registrar and handed to their handler;
 * `newStream` opens and negotiates outbound ones.
 *
 * State machine: 'open' → 'closing' (close()/abort() called, or the socket
 * is going away) → 'closed' (the socket emitted 'close'). 'close' is emitted
 * exactly once, on entering 'closed', with the reason when the end was not
 * a clean one.
 *
 * Events: 'stream' (stream: MplexStream) — an inbound stream after
 * negotiation, before its handler runs; 'streamError' (err: ConnectionError,
 * stream: MplexStream) — an inbound stream that failed and was reset: its
 * negotiation (StreamNegotiationError, StreamNegotiationTimeoutError), its
 * protocol's inbound limit (TooManyStreamsError) or its handler
 * (StreamHandlerError); 'close' (reason?: Error).
 */
export class Connection extends EventEmitter {
  readonly id: string
  readonly remoteId: Uint8Array
  readonly remoteAddr: HostPort
  readonly direction: Direction
  /** Set when the connection ended for another reason than a clean close. */
  closeReason: Error | undefined

  private _status: ConnectionStatus = 'open'
  private readonly socket: Duplex
  private readonly stream: Duplex
  private readonly muxer: MplexMuxer
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

    this.muxer = new MplexMuxer(this.stream, { ...init.muxer, onStream: (s) => this.onInboundStream(s) })
    // A protocol violation or the muxer's own close timeout ends up here with its typed error.
    this.muxer.on('close', this.onMuxerClose)
    this.finalizeOnceBothClosed()
    log('%s open %s %s:%d peer %s', this.id, this.direction, this.remoteAddr.host, this.remoteAddr.port, shortId(this.remoteId))
  }

  get status(): ConnectionStatus {
    return this._status
  }

  get streams(): MplexStream[] {
    return this.muxer.streams
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
   * Opens an mplex stream and negotiates the first protocol of `protocols`
   * the remote supports (in order). Protocols already at their
   * `maxOutboundStreams` on this connection are not proposed; when none is
   * left this throws TooManyStreamsError without opening a stream.
   */
  async newStream(protocols: string | string[], opts: NewStreamOptions = {}): Promise<MplexStream> {
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

    const stream = this.muxer.newStream()
    this.watchStream(stream)
    const timeoutMs = opts.negotiationTimeoutMs ?? this.negotiationTimeoutMs
    let protocol: string
    try {
      protocol = await this.negotiate(stream, timeoutMs, opts.signal, (signal) => selectProtocol(stream, proposals, signal))
    } catch (err) {
      resetStream(stream)
      throw this.negotiationFailure(err, proposals, opts.signal)
    }
    const limit = this.registrar.getLimits(protocol).maxOutboundStreams
    // Concurrent newStream calls may have filled the limit while this one negotiated.
    if (this.countStreams(protocol, 'outbound') >= limit) {
      resetStream(stream)
      throw new TooManyStreamsError(protocol, 'outbound', limit)
    }
    stream.protocol = protocol
    this.streamsOpened++
    log('%s outbound stream %s: %s', this.id, String(stream.id), protocol)
    return stream
  }

  /** Graceful close: close the muxer, end the secure channel, wait for the socket. Bounded by the close timeout. */
  close(): Promise<void> {
    if (this._status === 'closed') return Promise.resolve()
    if (this.closing !== undefined) return this.closing
    this._status = 'closing'
    this.lifetime.end(new ConnectionClosedError(`connection ${this.id} is closing`))
    log('%s closing', this.id)
    this.closing = this.closeGracefully()
    return this.closing
  }

  /** Immediate teardown: every stream and the socket are destroyed; 'close' carries `err`. */
  abort(err: Error): void {
    if (this._status === 'closed') return
    this._status = 'closing'
    this.noteFailure(err)
    this.lifetime.end(err)
    log('%s abort: %s', this.id, describeError(err))
    this.muxer.abort(err)
    this.socket.destroy()
  }

  private async closeGracefully(): Promise<void> {
    const timer = setTimeout(() => {
      const err = new ConnectionCloseTimeoutError(this.closeTimeoutMs)
      this.noteFailure(err)
      this.muxer.abort(err)
      this.socket.destroy()
    }, this.closeTimeoutMs)
    try {
      const muxerClosed = this.muxer.close().catch((err: unknown) => {
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
    if (this.muxer.status !== 'closed') {
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
    if (this.closeReason !== undefined || this._status === 'closed') return
    this.closeReason = err instanceof P2PError ? err : new ConnectionLostError(err)
    if (this._status === 'open') this._status = 'closing'
  }

  private onInboundStream(stream: MplexStream): void {
    this.watchStream(stream)
    if (this._status !== 'open') {
      resetStream(stream)
      return
    }
    void this.acceptStream(stream)
  }

  private async acceptStream(stream: MplexStream): Promise<void> {
    // Protocols at their inbound limit are not offered: the remote gets `na`.
    const offered = this.registrar
      .getProtocols()
      .filter((p) => this.countStreams(p, 'inbound') < this.registrar.getLimits(p).maxInboundStreams)
    let protocol: string
    try {
      protocol = await this.negotiate(stream, this.negotiationTimeoutMs, undefined, (signal) => handleProtocol(stream, offered, signal))
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
    if (this.countStreams(protocol, 'inbound') >= limit) {
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

  private onHandlerError(stream: MplexStream, protocol: string, cause: unknown): void {
    this.streamFailed(stream, new StreamHandlerError(protocol, cause))
  }

  /** Resets an inbound stream that failed and reports it ('streamError'), so it can be counted. */
  private streamFailed(stream: MplexStream, err: ConnectionError): void {
    log('%s inbound stream %s: %s', this.id, String(stream.id), describeError(err))
    resetStream(stream)
    this.emit('streamError', err, stream)
  }

  /**
   * Runs a negotiation under one signal: `timeoutMs`, the caller's signal and
   * the connection's lifetime. The negotiation fails with whichever fired
   * first's reason (and destroys the stream).
   */
  private async negotiate(
    stream: MplexStream,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<{ stream: Duplex; protocol: string }>,
  ): Promise<string> {
    try {
      const deadlineError = (): Error => new StreamNegotiationTimeoutError(timeoutMs)
      const result = await withDeadline(timeoutMs, deadlineError, [signal, this.lifetime.acquire()], run)
      if (result.stream !== stream) {
        throw new StreamNegotiationError(new Error('multistream-select returned a wrapper instead of the mplex stream'))
      }
      return result.protocol
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
    if (err instanceof MssUnsupportedProtocolError) return new ProtocolNotSupportedError(proposals, err)
    return new StreamNegotiationError(err)
  }

  private countStreams(protocol: string, direction: Direction): number {
    let n = 0
    for (const s of this.muxer.streams) if (s.protocol === protocol && s.direction === direction) n++
    return n
  }

  /**
   * A stream reset by the remote emits 'error'; without a listener that would
   * throw out of the event loop. Users add their own listeners; this one
   * only logs, so a misbehaving peer can never crash the process.
   */
  private watchStream(stream: MplexStream): void {
    stream.on('error', (err: Error) => log('%s stream %s error: %s', this.id, String(stream.id), describeError(err)))
  }
}

function resetStream(stream: MplexStream): void {
  if (!stream.destroyed) stream.reset()
}

