import { Duplex, type DuplexOptions } from 'node:stream'

/**
 * An in-memory, byte-mode Duplex connected to a peer: what one side writes,
 * the other reads, chunk for chunk (no coalescing and no copying, so tests
 * can assert how many writes a protocol made). Backpressure is real: a write
 * completes only when the peer's readable buffer accepted it, so a reader that
 * stops reading stalls the writer (write() returns false, 'drain' waits).
 *
 * `end()` ends the peer's readable side (half-close, like a TCP FIN).
 * `destroy()` destroys the peer too (without an error), like a reset socket.
 */
export class MemoryDuplex extends Duplex {
  /** Every chunk this side wrote, in order, as delivered to the peer (only with `recordWrites`). */
  readonly writes: Buffer[] = []
  /** Number of chunks written so far (always counted). */
  writeCount = 0
  /** Bytes written so far (always counted). */
  bytesWritten = 0
  peer!: MemoryDuplex
  private readonly recordWrites: boolean
  private pendingWrite: ((err?: Error | null) => void) | undefined

  constructor(opts: DuplexPairOptions = {}) {
    const { recordWrites, ...duplexOptions } = opts
    super(duplexOptions)
    this.recordWrites = recordWrites === true
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeCount++
    this.bytesWritten += chunk.length
    if (this.recordWrites) this.writes.push(chunk)
    const { peer } = this
    // Like a socket whose remote is gone: the bytes are dropped.
    if (peer.destroyed || peer.readableEnded) return callback()
    if (peer.push(chunk)) callback()
    else this.pendingWrite = callback
  }

  override _read(): void {
    const release = this.peer.pendingWrite
    if (release === undefined) return
    this.peer.pendingWrite = undefined
    release()
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null)
    callback()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.pendingWrite = undefined
    if (!this.peer.destroyed) this.peer.destroy()
    callback(err)
  }
}

export interface DuplexPairOptions extends DuplexOptions {
  /** Keep every written chunk in `writes` (for asserting write boundaries; off by default to bound memory). */
  recordWrites?: boolean
}

/** Two connected MemoryDuplexes: `a` writes to `b` and vice versa. */
export function duplexPair(opts: DuplexPairOptions = {}): [MemoryDuplex, MemoryDuplex] {
  const a = new MemoryDuplex(opts)
  const b = new MemoryDuplex(opts)
  a.peer = b
  b.peer = a
  return [a, b]
}
