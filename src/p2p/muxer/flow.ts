import type { Duplex } from 'node:stream'
import debug from 'debug'
import { MplexBufferOverflowError, MplexStreamStalledError } from './errors'

const log = debug('p2p:mplex')

/**
 * Head-of-line policy for inbound data.
 *
 * mplex has no per-stream flow-control windows, so the only way to slow a
 * remote writer is to stop reading the shared connection. The policy:
 *
 * 1. Each stream's receive buffer has a high-water mark (`streamHighWaterMark`).
 *    When pushing data takes a stream to or past it, the stream is "congested"
 *    and the muxer pauses the underlying connection. Unread bytes then pile up
 *    in the lower layers (socket buffer, TCP window) until the remote's
 *    connection stays buffered over its high-water mark, its MplexStream
 *    `_write` callbacks wait for the connection's 'drain' (writer.ts), and the
 *    remote stream's `write()` returns false: backpressure reaches the remote
 *    writer and memory here stays bounded.
 * 2. When the congested stream's consumer reads it below the mark (`_read`),
 *    the stream is relieved; once no stream is congested the connection resumes.
 * 3. Pausing blocks every stream on the connection. A stream that stays
 *    congested for `stallTimeoutMs` is reset (local error
 *    ERR_MPLEX_STREAM_STALLED, the remote sees a reset), which relieves it, so
 *    one abandoned stream cannot starve the others forever.
 * 4. Data that was already read from the connection when it paused (the rest of
 *    the current chunk) is still delivered. A stream whose unread data passes the
 *    hard cap `maxStreamBufferSize` anyway is reset at once (ERR_MPLEX_BUFFER_OVERFLOW):
 *    only a peer ignoring TCP backpressure — or a huge lower-layer chunk — gets there.
 *
 * Congestion is keyed by stream in insertion order, so the oldest congested
 * stream is first; one timer serves them all and is re-armed lazily rather than
 * cancelled on every relief, keeping timer churn off the data path.
 */

interface FlowStream {
  readonly readableLength: number
  readonly destroyed: boolean
}

export interface InboundFlowOptions {
  maxStreamBufferSize: number
  stallTimeoutMs: number
}

export class InboundFlow<S extends FlowStream> {
  private readonly congested = new Map<S, number>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false

  constructor(
    private readonly conn: Duplex,
    private readonly resetStream: (stream: S, err: Error) => void,
    private readonly opts: InboundFlowOptions,
    private readonly onPauseChange: (paused: boolean) => void = () => {},
  ) {}

  /** True while the connection is paused because some stream is over its high-water mark. */
  get paused(): boolean {
    return this.congested.size > 0
  }

  /** Called after data was pushed into `stream`; `accepted` is push()'s result. */
  afterPush(stream: S, accepted: boolean): void {
    // A 'data' handler may have destroyed the stream during push(); it must not stay congested.
    if (stream.destroyed) return
    if (stream.readableLength > this.opts.maxStreamBufferSize) {
      log('stream buffer %d over hard cap %d, resetting', stream.readableLength, this.opts.maxStreamBufferSize)
      this.resetStream(
        stream,
        new MplexBufferOverflowError(
          `mplex stream receive buffer reached ${stream.readableLength} bytes (limit ${this.opts.maxStreamBufferSize})`,
        ),
      )
      return
    }
    if (accepted || this.stopped || this.congested.has(stream)) return
    this.congested.set(stream, Date.now())
    if (this.congested.size === 1) {
      this.conn.pause()
      this.onPauseChange(true)
    }
    this.armTimer()
  }

  /** The stream's consumer wants more, or the stream ended or was destroyed. */
  release(stream: S): void {
    if (!this.congested.delete(stream)) return
    if (this.congested.size === 0 && !this.stopped) {
      this.conn.resume()
      this.onPauseChange(false)
    }
  }

  stop(): void {
    this.stopped = true
    this.congested.clear()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private armTimer(): void {
    if (this.timer !== undefined || !Number.isFinite(this.opts.stallTimeoutMs)) return
    const oldest = this.congested.values().next().value!
    const delay = Math.max(0, oldest + this.opts.stallTimeoutMs - Date.now())
    this.timer = setTimeout(this.onTimer, delay)
    this.timer.unref?.()
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    const now = Date.now()
    const stalled: S[] = []
    for (const [stream, since] of this.congested) {
      if (now - since < this.opts.stallTimeoutMs) break
      stalled.push(stream)
    }
    for (const stream of stalled) {
      this.release(stream)
      log('stream stalled over its high-water mark for %d ms, resetting', this.opts.stallTimeoutMs)
      this.resetStream(
        stream,
        new MplexStreamStalledError(
          `mplex stream left unread over its high-water mark for ${this.opts.stallTimeoutMs} ms; reset to unblock the connection`,
        ),
      )
    }
    if (this.congested.size > 0 && !this.stopped) this.armTimer()
  }
}
