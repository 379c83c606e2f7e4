import { P2PError } from '../errors'

/**
 * Errors of the mplex muxer. Every class has a stable `code`; connection-level
 * protocol violations (invalid flag, oversized frame, malformed header,
 * duplicate stream id) abort the whole connection, stream-level ones end only
 * the offending stream.
 */
export class MplexError extends P2PError {}

/** A frame carried flag 7, which the mplex spec does not define. Aborts the connection. */
export class MplexInvalidFlagError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_INVALID_FLAG', message)
  }
}

/** A frame announced more data than `maxFrameSize`. Aborts the connection before the data is buffered. */
export class MplexFrameTooLargeError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_FRAME_TOO_LARGE', message)
  }
}

/** A frame header could not be decoded (over-long or out-of-range varint). Aborts the connection. */
export class MplexInvalidFrameError extends MplexError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MPLEX_INVALID_FRAME', message, options)
  }
}

/** The remote opened a stream with an id that is still in use. Aborts the connection. */
export class MplexDuplicateStreamError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_DUPLICATE_STREAM', message)
  }
}

/** `newStream()` would exceed `maxOutboundStreams`. */
export class MplexTooManyStreamsError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_TOO_MANY_STREAMS', message)
  }
}

/** The remote reset the stream; reads and writes fail with this error. */
export class MplexStreamResetError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_STREAM_RESET', message)
  }
}

/** The stream's unread data passed `maxStreamBufferSize`; the stream was reset. */
export class MplexBufferOverflowError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_BUFFER_OVERFLOW', message)
  }
}

/** The stream stayed over its high-water mark for `stallTimeoutMs`; it was reset so other streams resume. */
export class MplexStreamStalledError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_STREAM_STALLED', message)
  }
}

/** The muxer is closing or closed; no new streams. */
export class MplexMuxerClosedError extends MplexError {
  constructor(message = 'mplex muxer is closed') {
    super('ERR_MPLEX_MUXER_CLOSED', message)
  }
}

/** The underlying connection ended or broke while the stream was still open. */
export class MplexConnectionClosedError extends MplexError {
  constructor(message = 'mplex connection closed', options?: { cause?: unknown }) {
    super('ERR_MPLEX_CONNECTION_CLOSED', message, options)
  }
}

/** All stream ids that fit a 63-bit frame header were used. */
export class MplexStreamIdsExhaustedError extends MplexError {
  constructor() {
    super('ERR_MPLEX_STREAM_IDS_EXHAUSTED', 'no mplex stream ids left on this connection')
  }
}

/** A muxer option is out of range. */
export class MplexInvalidOptionError extends MplexError {
  constructor(message: string) {
    super('ERR_MPLEX_INVALID_OPTION', message)
  }
}
