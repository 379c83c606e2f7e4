import type { Duplex } from 'node:stream'
import debug from 'debug'
import { destroyWith, readAvailable } from '../codec/stream-read'
import { decodeUvarint, uvarintLength } from '../codec/uvarint'
import { abortReason } from '../util/abort'
import { withDeadline } from '../util/timeout'
import { DEFAULT_MSS_TIMEOUT_MS } from './constants'
import { MssProtocolIdTooLongError, MssStreamClosedError, MssTimeoutError } from './errors'
import { HEADER_MESSAGE } from './messages'

export const log = debug('p2p:mss')

/** Options every negotiation takes. */
export interface NegotiationOptions {
  /** Aborts the negotiation (and destroys the stream) with the signal's reason. */
  signal?: AbortSignal
  /** Deadline for the whole negotiation. Default DEFAULT_MSS_TIMEOUT_MS (10 s); Infinity means none but the signal. */
  timeoutMs?: number
}

/**
 * Runs a negotiation under the deadline of `opts.timeoutMs` (expiring as an
 * MssTimeoutError) and `opts.signal`: what mssSelect / mssHandle / mssLs add
 * on top of the signal-only negotiations that the Upgrader and Connection
 * run under their own deadlines.
 */
export function underDeadline<R>(stream: Duplex, opts: NegotiationOptions, run: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_MSS_TIMEOUT_MS
  if (!(timeoutMs > 0)) {
    const err = new RangeError(`invalid timeoutMs ${String(opts.timeoutMs)}`)
    destroyWith(stream, err)
    return Promise.reject(err)
  }
  return withDeadline(timeoutMs, () => new MssTimeoutError(timeoutMs), [opts.signal], run)
}

/** What a negotiation resolves to: the same stream, positioned just after the negotiation. */
export interface NegotiationResult<S extends Duplex = Duplex> {
  stream: S
  protocol: string
}

/**
 * The shared engine of the dialer and the listener: a synchronous state
 * machine driven by the stream's 'readable' event, bounded only by its
 * signal (whose reason it fails with, so a deadline names its owner).
 *
 * Reading happens in paused mode with `read()`, so the bytes that follow the
 * last negotiation message (already sent by a pipelining peer, or sharing a
 * chunk with the answer) are handed back with `unshift()` in the same tick
 * the final message is parsed — before the stream can emit 'end' — and the
 * caller gets the same Duplex back with those bytes first in line. When the
 * 'readable' listener is removed Node returns the stream to its initial
 * (neither paused nor flowing) state, so the caller may use 'data', pipe(),
 * or async iteration afterwards as on a fresh stream.
 *
 * Messages answered within one read batch are written together in one
 * write, so header + proposal coming in one chunk get header + answer back in
 * one chunk. Any failure destroys the stream with the error and rejects.
 * The stream must not be read by anyone else while negotiating.
 */
export abstract class Negotiation<R> {
  protected readonly stream: Duplex
  /** Largest message (payload bytes, newline included) accepted in the current state. */
  protected maxMessageLength: number
  /** Pending outgoing messages of the current batch. */
  protected outbox: Buffer[] = []
  private readonly signal: AbortSignal | undefined
  /** Bytes of an incomplete message, kept as received. */
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Bytes needed to complete the pending message (prefix included); 0 while its prefix is incomplete. */
  private pendingNeed = 0
  private settled = false
  private resolveFn!: (value: R) => void
  private rejectFn!: (err: Error) => void

  constructor(stream: Duplex, signal: AbortSignal | undefined, maxMessageLength: number) {
    this.stream = stream
    this.signal = signal
    this.maxMessageLength = maxMessageLength
    this.onReadable = this.onReadable.bind(this)
    this.onEnd = this.onEnd.bind(this)
    this.onClose = this.onClose.bind(this)
    this.onError = this.onError.bind(this)
    this.onAbort = this.onAbort.bind(this)
  }

  /**
   * Handles one complete message (`text\n`, prefix stripped; a view valid only
   * during the call). Returns the result to finish, undefined to keep reading;
   * throws to fail.
   */
  protected abstract onMessage(msg: Buffer): R | undefined

  /** The error for a message announced longer than maxMessageLength. */
  protected tooLong(length: number | undefined): Error {
    return new MssProtocolIdTooLongError(length === undefined ? undefined : length - 1, this.maxMessageLength - 1)
  }

  /** Starts reading; `first` (if any) is written at once as a single chunk. */
  run(first?: Buffer): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.resolveFn = resolve
      this.rejectFn = reject
      const { stream, signal } = this
      if (signal?.aborted === true) return this.fail(abortReason(signal, 'multistream-select'))
      if (stream.destroyed || stream.readableEnded) return this.fail(new MssStreamClosedError('closed'))
      stream.on('readable', this.onReadable)
      stream.on('end', this.onEnd)
      stream.on('close', this.onClose)
      stream.on('error', this.onError)
      signal?.addEventListener('abort', this.onAbort)
      if (first !== undefined) stream.write(first)
    })
  }

  private onReadable(): void {
    try {
      while (!this.settled) {
        const chunk = readAvailable(this.stream)
        if (chunk === null) break
        this.consume(chunk)
      }
      if (!this.settled) this.flush()
    } catch (err) {
      this.fail(err as Error)
    }
  }

  private consume(chunk: Buffer): void {
    let buf = chunk
    if (this.pendingBytes > 0) {
      // Gather chunks without copying until the pending message is complete, so a
      // message trickling in byte by byte costs O(n), not O(n^2).
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      if (this.pendingBytes < this.pendingNeed) return
      buf = Buffer.concat(this.pending, this.pendingBytes)
      this.clearPending()
    }
    let offset = 0
    while (offset < buf.length) {
      let read
      try {
        read = decodeUvarint(buf, offset)
      } catch {
        throw this.tooLong(undefined)
      }
      if (read.bytes === 0) {
        // An unfinished prefix that is already longer than any allowed length's is over the limit.
        if (buf.length - offset >= uvarintLength(this.maxMessageLength)) throw this.tooLong(undefined)
        break
      }
      if (read.value > this.maxMessageLength) throw this.tooLong(read.value)
      const start = offset + read.bytes
      const end = start + read.value
      if (end > buf.length) {
        this.pendingNeed = end - offset
        break
      }
      offset = end
      const result = this.onMessage(buf.subarray(start, end))
      if (result !== undefined) return this.finish(result, buf.subarray(offset))
    }
    if (offset < buf.length) {
      this.pending.push(buf.subarray(offset))
      this.pendingBytes = buf.length - offset
    }
  }

  private clearPending(): void {
    this.pending = []
    this.pendingBytes = 0
    this.pendingNeed = 0
  }

  private flush(): void {
    const { outbox } = this
    if (outbox.length === 0) return
    this.outbox = []
    this.stream.write(outbox.length === 1 ? outbox[0]! : Buffer.concat(outbox))
  }

  /** True when the only queued message is the header (so header + answer can go as one cached buffer). */
  protected outboxIsHeaderOnly(): boolean {
    return this.outbox.length === 1 && this.outbox[0] === HEADER_MESSAGE
  }

  private finish(result: R, rest: Buffer): void {
    this.flush()
    this.settled = true
    this.detach()
    if (rest.length > 0) this.stream.unshift(rest)
    this.resolveFn(result)
  }

  protected fail(err: Error): void {
    if (this.settled) return
    this.settled = true
    this.detach()
    if (log.enabled) log('negotiation failed: %s', err.message)
    destroyWith(this.stream, err)
    this.rejectFn(err)
  }

  private detach(): void {
    const { stream } = this
    stream.off('readable', this.onReadable)
    stream.off('end', this.onEnd)
    stream.off('close', this.onClose)
    stream.off('error', this.onError)
    this.signal?.removeEventListener('abort', this.onAbort)
    if (this.pendingBytes > 0) this.clearPending()
  }

  private onEnd(): void {
    this.fail(new MssStreamClosedError('ended'))
  }

  private onClose(): void {
    this.fail(new MssStreamClosedError('closed'))
  }

  private onError(err: Error): void {
    this.fail(err)
  }

  private onAbort(): void {
    this.fail(abortReason(this.signal!, 'multistream-select'))
  }
}
