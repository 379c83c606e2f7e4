import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import debug from 'debug'
import { P2PError, TimeoutError } from '../errors'
import {
  MplexConnectionClosedError,
  MplexDuplicateStreamError,
  MplexMuxerClosedError,
  MplexStreamIdsExhaustedError,
  MplexTooManyStreamsError,
} from './errors'
import { InboundFlow } from './flow'
import { FrameDecoder, type FrameSink, MAX_STREAM_ID, MplexFlag, type StreamId } from './frame'
import { type MplexMuxerOptions, type ResolvedMplexOptions, resolveOptions } from './options'
import { MplexStream, type StreamContext } from './stream'
import { FrameWriter } from './writer'

const log = debug('p2p:mplex')
const utf8 = new TextDecoder()

export type MuxerStatus = 'open' | 'closing' | 'closed'

/**
 * The error a connection failure hands to every stream. Typed errors of the
 * layer below (a FrameMacError, a SocketClosedError) already name the
 * reason and pass through; a raw Node error (ECONNRESET on a bare socket) is
 * wrapped so stream readers only ever see a P2PError, with the original as `cause`.
 */
export function typedConnectionError(err: Error): P2PError {
  if (err instanceof P2PError) return err
  return new MplexConnectionClosedError(`mplex connection failed: ${err.message}`, { cause: err })
}

/**
 * mplex (/mplex/6.7.0) over any byte Duplex.
 *
 * Events: 'stream' (MplexStream) for each inbound stream when no `onStream`
 * option was given; 'pause' / 'resume' when a congested stream stops / lets
 * reading of the connection go on (see flow.ts); 'close' (err?: Error) once,
 * when the muxer is finished — `err` is set when it was aborted (protocol
 * violation, connection error, close timeout).
 *
 * Streams are kept in two tables because both sides number their streams
 * independently: Receiver-flagged frames refer to streams we opened,
 * Initiator-flagged ones to streams the remote opened.
 *
 * Frames for a stream id we do not know (never opened, already reset or fully
 * closed) are dropped and logged, never answered: they are expected in
 * normal operation right after a reset (data the remote sent before seeing
 * it), and answering each with a reset would let a peer make us write one
 * frame per frame it sends.
 *
 * Closing: `close()` half-closes every stream, refuses new ones, ends the
 * connection once every stream has sent its Close, and resolves when the
 * connection has closed (after `closeTimeoutMs` it aborts instead). A remote
 * EOF cuts streams the remote had not closed (MplexConnectionClosedError),
 * lets streams it had closed finish writing, then ends the connection.
 */
export class MplexMuxer extends EventEmitter {
  readonly #conn: Duplex
  readonly #opts: ResolvedMplexOptions
  readonly #onStream: ((stream: MplexStream) => void) | undefined
  readonly #writer: FrameWriter
  readonly #flow: InboundFlow<MplexStream>
  readonly #decoder: FrameDecoder
  readonly #ctx: StreamContext
  readonly #outbound = new Map<StreamId, MplexStream>()
  readonly #inbound = new Map<StreamId, MplexStream>()
  #nextId: StreamId = 0
  #status: MuxerStatus = 'open'
  #connEnding = false
  #closeTimer: ReturnType<typeof setTimeout> | undefined
  #closeWaiters: Array<() => void> = []

  constructor(conn: Duplex, opts: MplexMuxerOptions = {}) {
    super()
    this.#conn = conn
    this.#opts = resolveOptions(opts)
    this.#onStream = opts.onStream
    this.#writer = new FrameWriter(conn)
    this.#flow = new InboundFlow<MplexStream>(
      conn,
      (stream, err) => stream.destroy(err),
      this.#opts,
      (paused) => this.emit(paused ? 'pause' : 'resume'),
    )
    this.#decoder = new FrameDecoder(this.#sink(), this.#opts.maxFrameSize)
    this.#ctx = {
      writer: this.#writer,
      flow: this.#flow,
      maxFrameSize: this.#opts.maxFrameSize,
      highWaterMark: this.#opts.streamHighWaterMark,
      onLocalClose: () => this.#maybeEndConn(),
      onDone: (stream) => this.#forget(stream),
    }
    conn.on('error', this.#onError)
    if (conn.destroyed) {
      // Its 'close' may be gone already; finish on the next tick so listeners can attach first.
      process.nextTick(() => this.#finish(new MplexConnectionClosedError('connection was closed before the muxer started')))
      return
    }
    conn.on('data', this.#onData)
    conn.on('end', this.#onEnd)
    conn.on('drain', this.#onDrain)
    conn.on('close', this.#onClose)
  }

  get status(): MuxerStatus {
    return this.#status
  }

  /** Open streams, ours first. */
  get streams(): MplexStream[] {
    return [...this.#outbound.values(), ...this.#inbound.values()]
  }

  /** Unread bytes held by all streams. */
  get bufferedBytes(): number {
    let total = 0
    for (const s of this.#outbound.values()) total += s.readableLength
    for (const s of this.#inbound.values()) total += s.readableLength
    return total
  }

  /** True while reading the connection is paused by a congested stream (see flow.ts). */
  get readPaused(): boolean {
    return this.#flow.paused
  }

  /** Opens a stream; throws MplexMuxerClosedError or MplexTooManyStreamsError. */
  newStream(name?: string): MplexStream {
    if (this.#status !== 'open') throw new MplexMuxerClosedError()
    if (this.#outbound.size >= this.#opts.maxOutboundStreams) {
      throw new MplexTooManyStreamsError(`already ${this.#outbound.size} outbound mplex streams open (limit ${this.#opts.maxOutboundStreams})`)
    }
    const id = this.#allocateId()
    const streamName = name ?? String(id)
    const stream = new MplexStream(this.#ctx, id, streamName, 'outbound')
    this.#outbound.set(id, stream)
    this.#writer.writeFrame(id, MplexFlag.NewStream, Buffer.from(streamName, 'utf8'))
    return stream
  }

  /** Half-closes every stream and ends the connection gracefully; resolves once it closed. Never rejects. */
  close(): Promise<void> {
    if (this.#status === 'closed') return Promise.resolve()
    const done = new Promise<void>((resolve) => this.#closeWaiters.push(resolve))
    if (this.#closeTimer === undefined) {
      this.#status = 'closing'
      this.#closeTimer = setTimeout(this.#onCloseTimeout, this.#opts.closeTimeoutMs)
      for (const stream of this.streams) if (!stream.writableEnded) stream.end()
      this.#maybeEndConn()
    }
    return done
  }

  /** Destroys every stream with `err` and the connection at once. */
  abort(err: Error): void {
    if (this.#status === 'closed') return
    log('aborting: %s', err.message)
    this.#finish(err)
    this.#conn.destroy()
  }

  #sink(): FrameSink {
    return {
      onNewStream: (id, name) => this.#acceptStream(id, name),
      onMessage: (id, fromInitiator, data) => {
        const stream = (fromInitiator ? this.#inbound : this.#outbound).get(id)
        if (stream !== undefined) stream.receiveData(data)
        else log('dropping %d bytes for unknown stream %s', data.length, id)
      },
      onClose: (id, fromInitiator) => {
        const stream = (fromInitiator ? this.#inbound : this.#outbound).get(id)
        if (stream !== undefined) stream.receiveClose()
        else log('ignoring close of unknown stream %s', id)
      },
      onReset: (id, fromInitiator) => {
        const stream = (fromInitiator ? this.#inbound : this.#outbound).get(id)
        if (stream !== undefined) stream.receiveReset()
        else log('ignoring reset of unknown stream %s', id)
      },
    }
  }

  #acceptStream(id: StreamId, nameBytes: Uint8Array): void {
    if (this.#inbound.has(id)) {
      throw new MplexDuplicateStreamError(`remote opened mplex stream ${id} while it is still open`)
    }
    const refusal = this.#refusalReason()
    if (refusal !== undefined) {
      log('refusing inbound stream %s: %s', id, refusal)
      this.#writer.writeFrame(id, MplexFlag.ResetReceiver)
      return
    }
    const stream = new MplexStream(this.#ctx, id, utf8.decode(nameBytes), 'inbound')
    this.#inbound.set(id, stream)
    try {
      if (this.#onStream !== undefined) this.#onStream(stream)
      else this.emit('stream', stream)
    } catch (err) {
      log('inbound stream handler threw, resetting stream %s: %s', id, (err as Error)?.message)
      stream.reset()
    }
  }

  #refusalReason(): string | undefined {
    if (this.#status !== 'open') return 'muxer is closing'
    if (this.#inbound.size >= this.#opts.maxInboundStreams) {
      return `${this.#inbound.size} inbound streams open (limit ${this.#opts.maxInboundStreams})`
    }
    if (this.#onStream === undefined && this.listenerCount('stream') === 0) return 'no stream handler'
    return undefined
  }

  #allocateId(): StreamId {
    const id = this.#nextId
    if (typeof id === 'number') {
      this.#nextId = id < Number.MAX_SAFE_INTEGER ? id + 1 : BigInt(id) + 1n
    } else {
      if (id > MAX_STREAM_ID) throw new MplexStreamIdsExhaustedError()
      this.#nextId = id + 1n
    }
    return id
  }

  #forget(stream: MplexStream): void {
    const table = stream.direction === 'outbound' ? this.#outbound : this.#inbound
    if (table.get(stream.id) === stream) table.delete(stream.id)
    this.#maybeEndConn()
  }

  /** While closing: end the connection once every stream has sent its Close. */
  #maybeEndConn(): void {
    if (this.#status !== 'closing' || this.#connEnding) return
    for (const s of this.#outbound.values()) if (!s.localClosed) return
    for (const s of this.#inbound.values()) if (!s.localClosed) return
    this.#connEnding = true
    this.#writer.close(new MplexMuxerClosedError())
    log('all streams closed, ending connection')
    this.#conn.end()
  }

  /** Tears everything down once; `err` set means an abort. */
  #finish(err: Error | undefined): void {
    if (this.#status === 'closed') return
    this.#status = 'closed'
    this.#decoder.stop()
    this.#flow.stop()
    this.#writer.close(err ?? new MplexConnectionClosedError())
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer)
    this.#closeTimer = undefined
    const streams = this.streams
    this.#outbound.clear()
    this.#inbound.clear()
    for (const stream of streams) stream.detach(err)
    this.#conn.off('data', this.#onData)
    this.#conn.off('end', this.#onEnd)
    this.#conn.off('drain', this.#onDrain)
    this.#conn.off('close', this.#onClose)
    // The 'error' listener stays: a dying lower layer may still emit one.
    const waiters = this.#closeWaiters
    this.#closeWaiters = []
    for (const resolve of waiters) resolve()
    this.emit('close', err)
  }

  /**
   * Decoder errors are protocol violations and abort the connection. Stream
   * 'data' handlers run synchronously inside push(), so an exception thrown by
   * one lands here too; it aborts the connection (and reaches every stream's
   * 'error') rather than escaping as an uncaught exception from the socket.
   */
  readonly #onData = (chunk: Buffer): void => {
    try {
      this.#decoder.push(chunk)
    } catch (err) {
      this.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  readonly #onEnd = (): void => {
    log('remote ended the connection')
    if (this.#conn.allowHalfOpen === false) {
      this.#writer.close(new MplexConnectionClosedError('remote ended the connection'))
    }
    for (const stream of this.streams) {
      if (!stream.remoteClosed) {
        stream.destroy(new MplexConnectionClosedError(`remote ended the connection before closing stream ${stream.id}`))
      }
    }
    if (this.#status === 'open') this.#status = 'closing'
    this.#maybeEndConn()
  }

  readonly #onDrain = (): void => {
    this.#writer.onDrain()
  }

  readonly #onError = (err: Error): void => {
    if (this.#status === 'closed') {
      log('connection error after close: %s', err.message)
      return
    }
    this.abort(typedConnectionError(err))
  }

  readonly #onClose = (): void => {
    this.#finish(undefined)
  }

  readonly #onCloseTimeout = (): void => {
    this.#closeTimer = undefined
    this.abort(new TimeoutError(`mplex close did not finish within ${this.#opts.closeTimeoutMs} ms`))
  }
}
