import type { Duplex } from 'node:stream'
import type { StreamDirection, StreamId } from './muxer'

/**
 * A stream of a Connection, whatever carries it: an MplexStream (one mplex
 * stream, its protocol agreed with multistream-select) or an RlpxStream (one
 * shared capability of an RLPx session, its protocol fixed by the Hellos).
 * Protocol handlers and Connection users see only this.
 *
 * Both are Node Duplexes with native backpressure and carry the bytes of the
 * protocol above unchanged. They differ in how they end (docs/ARCHITECTURE.md,
 * "RLPx peers on the modular stack"): an mplex stream half-closes on `end()`
 * and resets alone; RLPx has no per-capability close, so an RlpxStream's
 * `end()` disconnects the whole session gracefully and `reset()` ends it at once.
 */
export interface MuxedStream extends Duplex {
  /** Unique per connection and direction (mplex: the stream id; RLPx: the capability's first message id). */
  readonly id: StreamId
  /** 'outbound' when this side opened it (on RLPx: the connection's direction). */
  readonly direction: StreamDirection
  /** The protocol id the stream carries, once agreed (e.g. `/eth/69/1.0.0`). */
  protocol?: string
  /** Aborts the stream both ways (on RLPx: the whole session). */
  reset(): void
}
