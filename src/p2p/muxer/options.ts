import { MplexInvalidOptionError } from './errors'
import { MAX_FRAME_SIZE } from './frame'
import type { MplexStream } from './stream'

/**
 * Muxer options and their defaults. Every limit is enforced by the muxer and
 * covered by a test in test/p2p/muxer.
 */
export interface MplexMuxerOptions {
  /** Receives every stream the remote opens. Without it (and without a 'stream' listener) inbound streams are reset. */
  onStream?: (stream: MplexStream) => void
  /** Streams the remote may have open at once; one more is reset, the connection stays. */
  maxInboundStreams?: number
  /** Streams we may have open at once; `newStream()` past it throws MplexTooManyStreamsError. */
  maxOutboundStreams?: number
  /** Hard cap on one stream's unread bytes; past it the stream is reset (ERR_MPLEX_BUFFER_OVERFLOW). */
  maxStreamBufferSize?: number
  /** Unread bytes at which a stream counts as congested and the connection stops being read. */
  streamHighWaterMark?: number
  /** How long a stream may stay congested before it is reset; `Infinity` never resets (pure pause policy). */
  stallTimeoutMs?: number
  /** Largest frame data accepted and the size outbound writes are split into. */
  maxFrameSize?: number
  /** How long `close()` waits for streams to flush and the connection to close before aborting. */
  closeTimeoutMs?: number
}

/**
 * 1024 each way: room for the benchmark's 1,000 concurrent streams, and the
 * figure go-mplex and js-libp2p have long used for mplex connections.
 */
export const DEFAULT_MAX_INBOUND_STREAMS = 1024
export const DEFAULT_MAX_OUTBOUND_STREAMS = 1024
/**
 * 128 KiB: two socket reads' worth, so a consumer that keeps up (for-await,
 * 'data' handler, pipe) never trips a connection pause, while 1,024 streams
 * that all stop reading at the mark still pin at most 128 MiB.
 */
export const DEFAULT_STREAM_HIGH_WATER_MARK = 128 * 1024
/**
 * 4 MiB: above the mark plus one full 1 MiB frame plus a large lower-layer
 * chunk, i.e. only reachable when the remote ignores TCP backpressure.
 */
export const DEFAULT_MAX_STREAM_BUFFER_SIZE = 4 * 1024 * 1024
/**
 * 10 s: a reader busy with one slow task (say, importing a batch of blocks)
 * is not punished, while other streams are not blocked for longer than a
 * typical request timeout.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000
/** 5 s: flushing a few MiB over loopback or a LAN takes far less; a peer that does not answer in time is cut. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000

export interface ResolvedMplexOptions {
  maxInboundStreams: number
  maxOutboundStreams: number
  maxStreamBufferSize: number
  streamHighWaterMark: number
  stallTimeoutMs: number
  maxFrameSize: number
  closeTimeoutMs: number
}

export function resolveOptions(opts: MplexMuxerOptions): ResolvedMplexOptions {
  const resolved: ResolvedMplexOptions = {
    maxInboundStreams: opts.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS,
    maxOutboundStreams: opts.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS,
    maxStreamBufferSize: opts.maxStreamBufferSize ?? DEFAULT_MAX_STREAM_BUFFER_SIZE,
    streamHighWaterMark: opts.streamHighWaterMark ?? DEFAULT_STREAM_HIGH_WATER_MARK,
    stallTimeoutMs: opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    maxFrameSize: opts.maxFrameSize ?? MAX_FRAME_SIZE,
    closeTimeoutMs: opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
  }
  requireCount('maxInboundStreams', resolved.maxInboundStreams, 0)
  requireCount('maxOutboundStreams', resolved.maxOutboundStreams, 0)
  requireCount('streamHighWaterMark', resolved.streamHighWaterMark, 1)
  requireCount('maxStreamBufferSize', resolved.maxStreamBufferSize, resolved.streamHighWaterMark)
  requireCount('maxFrameSize', resolved.maxFrameSize, 1)
  requirePositiveDuration('stallTimeoutMs', resolved.stallTimeoutMs, true)
  requirePositiveDuration('closeTimeoutMs', resolved.closeTimeoutMs, false)
  return resolved
}

function requireCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MplexInvalidOptionError(`${name} must be an integer >= ${min}, got ${value}`)
  }
}

function requirePositiveDuration(name: string, value: number, allowInfinity: boolean): void {
  const ok = value > 0 && (Number.isFinite(value) || (allowInfinity && value === Infinity))
  if (!ok) throw new MplexInvalidOptionError(`${name} must be a positive number of milliseconds, got ${value}`)
}
