import type { Duplex } from 'node:stream'
import { MplexConnectionClosedError } from './errors'
import { MAX_HEADER_BYTES, type StreamId, writeFrameHeader } from './frame'

/**
 * Frames are written to the connection without copying large payloads:
 * headers are carved out of a shared slab, data up to COPY_THRESHOLD is copied
 * next to its header (one chunk, so a lower layer that frames every chunk — the
 * ECIES channel — does not emit a tiny frame per header), larger data goes as
 * its own chunk right behind its header.
 *
 * Small frames are batched: the connection is corked from the first one in a
 * tick until the next tick, so everything written in one turn of the event
 * loop reaches the socket as one writev. A large frame is flushed at once (a
 * synchronous cork/uncork pair, one writev) unless a batch is open, in which
 * case it joins the batch to keep frame order.
 *
 * Saturation is judged by the connection's buffered length after flushing,
 * not by write()'s return value: a corked write always reports "full", yet a
 * socket usually hands the whole writev to the kernel synchronously. Writers
 * wait only while bytes really stay buffered at or over the high-water mark;
 * they are released by the batch flush when it empties the buffer, or by the
 * connection's 'drain'.
 */

/** Slab the headers (and small payloads) are cut from; regions are never reused, so in-flight chunks stay intact. */
const SLAB_SIZE = 64 * 1024
/** Payloads up to this size are copied next to their header: cheaper than a separate chunk at this size. */
const COPY_THRESHOLD = 8 * 1024

/**
 * One slab for every muxer in the process: a region is handed out once and
 * never reused, so sharing it across connections is as safe as a slab per
 * connection, and an idle connection holds no 64 KiB slab of its own (that
 * was most of a quiet connection's memory). A slab is freed once no chunk cut
 * from it is still queued anywhere.
 */
let slab = Buffer.allocUnsafe(0)
let slabOffset = 0

/** Reserves `maxBytes` at the current slab offset, starting a new slab when they do not fit. */
function slabFor(maxBytes: number): Buffer {
  if (slab.length - slabOffset < maxBytes) {
    slab = Buffer.allocUnsafe(SLAB_SIZE)
    slabOffset = 0
  }
  return slab
}

type WriteCallback = (err?: Error | null) => void

export class FrameWriter {
  private batching = false
  private waiting: WriteCallback[] = []
  /** Set once the connection can take no more frames; stream writes fail with it. */
  private closedError: Error | undefined

  constructor(private readonly conn: Duplex) {}

  get error(): Error | undefined {
    return this.closedError
  }

  /** True while the connection holds at least its high-water mark of unsent bytes. */
  get saturated(): boolean {
    return this.conn.writableLength >= this.conn.writableHighWaterMark
  }

  /** Writes one frame; data must be at most the frame size limit. No-op once closed. */
  writeFrame(id: StreamId, flag: number, data?: Uint8Array): void {
    if (this.closedError !== undefined) return
    if (!this.conn.writable) {
      this.close(new MplexConnectionClosedError('mplex connection is no longer writable'))
      return
    }
    const length = data === undefined ? 0 : data.length
    const copy = length <= COPY_THRESHOLD
    const buf = slabFor(MAX_HEADER_BYTES + (copy ? length : 0))
    const start = slabOffset
    let end = writeFrameHeader(buf, start, id, flag, length)
    if (copy) {
      if (length > 0) buf.set(data!, end)
      end += length
      slabOffset = end
      this.batch(buf.subarray(start, end))
      return
    }
    slabOffset = end
    const header = buf.subarray(start, end)
    if (this.batching) {
      this.conn.write(header)
      this.conn.write(data)
      return
    }
    this.conn.cork()
    this.conn.write(header)
    this.conn.write(data)
    this.conn.uncork()
  }

  /** Calls `cb` now, or once the connection's buffer empties below its mark (or with the error if it dies). */
  afterWrite(cb: WriteCallback): void {
    if (this.closedError !== undefined) cb(this.closedError)
    else if (this.saturated) this.waiting.push(cb)
    else cb()
  }

  /** The connection emitted 'drain': release every writer that waited. */
  onDrain(): void {
    this.release(undefined)
  }

  /** The connection is gone: pending and future writes fail with `err`. */
  close(err: Error): void {
    if (this.closedError !== undefined) return
    this.closedError = err
    this.release(err)
  }

  private release(err: Error | undefined): void {
    if (this.waiting.length === 0) return
    const waiting = this.waiting
    this.waiting = []
    for (const cb of waiting) cb(err)
  }

  private batch(chunk: Uint8Array): void {
    if (!this.batching) {
      this.batching = true
      this.conn.cork()
      process.nextTick(this.flush)
    }
    this.conn.write(chunk)
  }

  private readonly flush = (): void => {
    this.batching = false
    this.conn.uncork()
    if (this.waiting.length > 0 && this.closedError === undefined && !this.saturated) this.release(undefined)
  }
}
