import type { Duplex } from 'node:stream'
import type { MuxerOptions } from './connection-muxer'
import type { Registrar } from './registrar'
import type { RlpxMuxer } from './rlpx'

/** The Connection's options, limits and shapes (see connection.ts). */

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

export interface ConnectionInit {
  remoteId: Uint8Array
  remoteAddr: HostPort
  direction: Direction
  /** The raw transport socket: its byte counters feed `stats`; it is destroyed last. */
  socket: Duplex
  /** The secured Duplex the muxer runs over (mplex: after its multistream negotiation; RLPx: the session's channel). */
  stream: Duplex
  registrar: Registrar
  streamNegotiationTimeoutMs?: number
  closeTimeoutMs?: number
  /** mplex options (ignored with `rlpx`). */
  muxer?: MuxerOptions
  /** An RLPx session whose Hello exchange is done, running on `stream`: it carries the streams instead of mplex. */
  rlpx?: RlpxMuxer
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
