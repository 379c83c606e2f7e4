export {
  MplexBufferOverflowError,
  MplexConnectionClosedError,
  MplexDuplicateStreamError,
  MplexError,
  MplexFrameTooLargeError,
  MplexInvalidFlagError,
  MplexInvalidFrameError,
  MplexInvalidOptionError,
  MplexMuxerClosedError,
  MplexStreamIdsExhaustedError,
  MplexStreamResetError,
  MplexStreamStalledError,
  MplexTooManyStreamsError,
} from './errors'
export {
  encodeFrame,
  FrameDecoder,
  type FrameSink,
  MAX_FRAME_SIZE,
  MAX_STREAM_ID,
  MplexFlag,
  type MplexFlagValue,
  type StreamId,
  writeFrameHeader,
} from './frame'
export { MplexMuxer, type MuxerStatus } from './muxer'
export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_MAX_STREAM_BUFFER_SIZE,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_STREAM_HIGH_WATER_MARK,
  type MplexMuxerOptions,
} from './options'
export { MplexStream, type StreamDirection } from './stream'

/** Protocol id negotiated with multistream-select for this muxer. */
export const MPLEX_PROTOCOL_ID = '/mplex/6.7.0'
