import type { Socket } from 'node:net'

/**
 * One direction of a fault-proxy connection (see fault-proxy.ts): the fault
 * options, their per-direction statistics, and the pipe that applies them.
 */

export type ProxyDirection = 'up' | 'down'

export interface FlipFault {
  /** Offset of the byte to alter in this direction's stream. */
  offset: number
  /** XOR mask applied to that byte; default 0xff (every bit flipped). Must be non-zero. */
  mask?: number
}

export interface DirectionFaults {
  /** Hold every chunk this long before forwarding it (order is kept). */
  delayMs?: number
  /** Forward at most this many bytes per second (chunks are sliced to pace them). */
  bytesPerSecond?: number
  /**
   * Forward exactly this many bytes of the direction, then cut the whole
   * connection (both sockets) — e.g. in the middle of a frame.
   */
  cutAfterBytes?: number
  /** How a cut ends the sockets: 'fin' (the N bytes, then FIN; default) or 'reset' (TCP RST, unsent data dropped). */
  cutMode?: 'fin' | 'reset'
  /** Alter one or more bytes at absolute offsets. */
  flip?: FlipFault | FlipFault[]
  /** Swallow every byte received while set; the sockets stay open. */
  blackhole?: boolean
}

export interface DirectionStats {
  /** Bytes received from the sender. */
  received: number
  /** Bytes written to the receiver. */
  forwarded: number
  /** Bytes dropped by the blackhole. */
  swallowed: number
  /** Offsets of the bytes altered. */
  flipped: number[]
  /** Chunks held by a delay. */
  delayedChunks: number
  /** Slices written under a throttle. */
  throttledSlices: number
}

/** What a pipe needs from the connection it belongs to. */
export interface PipeOwner {
  readonly closed: boolean
  emit(event: string, ...args: unknown[]): boolean
  cut(direction: ProxyDirection, mode: 'fin' | 'reset'): void
  sleep(ms: number): Promise<void>
  untilClosed(p: Promise<void>): Promise<void>
}

/** Bytes a pipe queues before it stops reading its sender (backpressure through the proxy). */
const PIPE_HIGH_WATER_MARK = 256 * 1024
/** Throttle pacing granularity: about this many slices per second of traffic. */
const THROTTLE_SLICES_PER_SECOND = 20

interface Queued {
  /** Offset of the chunk's first byte in the direction's stream. */
  start: number
  data: Buffer
  /** Cut the connection once this chunk is written. */
  cutAfter: boolean
  cutMode: 'fin' | 'reset'
}

export function checkFaults(f: DirectionFaults): void {
  const nonNegative = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a non-negative number, got ${v}`)
  }
  nonNegative('delayMs', f.delayMs)
  nonNegative('cutAfterBytes', f.cutAfterBytes)
  if (f.bytesPerSecond !== undefined && !(f.bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond must be positive`)
  for (const flip of toList(f.flip)) {
    nonNegative('flip.offset', flip.offset)
    if (flip.mask !== undefined && (flip.mask & 0xff) === 0) throw new RangeError('flip.mask must alter at least one bit')
  }
}

function toList(flip: FlipFault | FlipFault[] | undefined): FlipFault[] {
  if (flip === undefined) return []
  return Array.isArray(flip) ? flip : [flip]
}

/** One direction of a proxied connection: reads `from`, applies the faults, writes `to` in order. */
export class Pipe {
  faults: DirectionFaults = {}
  readonly stats: DirectionStats = { received: 0, forwarded: 0, swallowed: 0, flipped: [], delayedChunks: 0, throttledSlices: 0 }
  private readonly queue: Queued[] = []
  private queuedBytes = 0
  private inFlight = 0
  private pumping = false
  private ended = false
  private cutDone = false
  private nextSendAt = 0

  constructor(
    readonly direction: ProxyDirection,
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly conn: PipeOwner,
  ) {
    from.on('data', (chunk: Buffer) => this.onData(chunk))
    from.on('end', () => {
      this.ended = true
      this.maybeEnd()
    })
  }

  /** Bytes received but not yet forwarded (queued, or held by a delay or the throttle). */
  get pending(): number {
    return this.queuedBytes + this.inFlight
  }

  /**
   * Applies a cut threshold set at runtime: bytes already forwarded (or being
   * written) stay so; queued bytes at or past the threshold are dropped and
   * the cut follows the last byte before it.
   */
  checkCutNow(): void {
    const at = this.faults.cutAfterBytes
    if (at === undefined || this.cutDone || this.stats.received < at) return
    this.cutDone = true
    const mode = this.faults.cutMode ?? 'fin'
    const keep = this.queue.findIndex((q) => q.start + q.data.length >= at)
    if (keep >= 0) {
      const item = this.queue[keep]!
      const data = item.data.subarray(0, Math.max(0, at - item.start))
      this.queuedBytes -= item.data.length - data.length
      this.queue[keep] = { ...item, data, cutAfter: true, cutMode: mode }
      for (const dropped of this.queue.splice(keep + 1)) this.queuedBytes -= dropped.data.length
    } else {
      this.queue.push({ start: this.stats.received, data: Buffer.alloc(0), cutAfter: true, cutMode: mode })
    }
    void this.pump()
  }

  private onData(chunk: Buffer): void {
    if (this.cutDone || this.conn.closed) return
    const start = this.stats.received
    this.stats.received += chunk.length
    this.enqueue(chunk, start)
    // Emitted once the chunk is queued (or swallowed), so listeners see the proxy's state after it.
    this.conn.emit('received', this.direction, chunk.length)
  }

  private enqueue(chunk: Buffer, start: number): void {
    const f = this.faults
    let data = chunk
    let cutAfter = false
    if (f.cutAfterBytes !== undefined && start + data.length >= f.cutAfterBytes) {
      data = data.subarray(0, Math.max(0, f.cutAfterBytes - start))
      cutAfter = true
      this.cutDone = true
    }
    if (f.blackhole === true) {
      this.stats.swallowed += data.length
      this.conn.emit('swallowed', this.direction, data.length)
      data = data.subarray(0, 0)
    }
    data = this.applyFlips(data, start)
    if (data.length === 0 && !cutAfter) return
    this.queue.push({ start, data, cutAfter, cutMode: f.cutMode ?? 'fin' })
    this.queuedBytes += data.length
    if (this.queuedBytes > PIPE_HIGH_WATER_MARK) this.from.pause()
    void this.pump()
  }

  private applyFlips(data: Buffer, start: number): Buffer {
    let out = data
    for (const { offset, mask = 0xff } of toList(this.faults.flip)) {
      if (offset < start || offset >= start + data.length) continue
      if (out === data) out = Buffer.from(data) // never alter the socket's own buffer
      out[offset - start]! ^= mask & 0xff
      this.stats.flipped.push(offset)
      this.conn.emit('flipped', this.direction, offset)
    }
    return out
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.conn.closed) {
        // Taken off the queue before the wait: a runtime cut then never trims bytes already on their way.
        const item = this.queue.shift()!
        this.queuedBytes -= item.data.length
        this.inFlight = item.data.length
        const delay = this.faults.delayMs ?? 0
        if (delay > 0 && item.data.length > 0) {
          this.stats.delayedChunks++
          await this.conn.sleep(delay)
        }
        await this.write(item.data)
        this.inFlight = 0
        if (item.cutAfter) {
          this.conn.cut(this.direction, item.cutMode)
          return
        }
        if (this.queuedBytes <= PIPE_HIGH_WATER_MARK / 2 && this.from.isPaused()) this.from.resume()
      }
    } finally {
      this.pumping = false
      this.inFlight = 0
    }
    this.maybeEnd()
  }

  /** Writes `data`, paced by the throttle; resolves once the receiver accepted it (or the connection closed). */
  private async write(data: Buffer): Promise<void> {
    const rate = this.faults.bytesPerSecond
    if (rate === undefined) return this.send(data)
    const slice = Math.max(1, Math.floor(rate / THROTTLE_SLICES_PER_SECOND))
    for (let off = 0; off < data.length && !this.conn.closed; off += slice) {
      const piece = data.subarray(off, off + slice)
      const now = Date.now()
      const at = Math.max(now, this.nextSendAt)
      if (at > now) await this.conn.sleep(at - now)
      this.nextSendAt = at + (piece.length * 1000) / rate
      this.stats.throttledSlices++
      await this.send(piece)
    }
  }

  private async send(data: Buffer): Promise<void> {
    if (data.length === 0 || this.conn.closed || this.to.destroyed) return
    this.stats.forwarded += data.length
    const flushed = new Promise<void>((resolve) => this.to.write(data, () => resolve()))
    this.conn.emit('forwarded', this.direction, data.length)
    await this.conn.untilClosed(flushed)
  }

  private maybeEnd(): void {
    if (this.ended && this.queue.length === 0 && !this.pumping && !this.cutDone && !this.to.destroyed) this.to.end()
  }
}

