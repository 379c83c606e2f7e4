import { P2PError } from '../errors'

/**
 * A length prefix announced more bytes than the reader allows. Raised as soon
 * as the prefix is decoded, before any of the payload is buffered, so a peer
 * cannot make us hold an oversized message in memory.
 */
export class MessageTooLargeError extends P2PError {
  readonly length: number
  readonly maxLength: number

  constructor(length: number, maxLength: number) {
    super('ERR_MESSAGE_TOO_LARGE', `message of ${length} bytes exceeds the limit of ${maxLength} bytes`)
    this.length = length
    this.maxLength = maxLength
  }
}

/** The stream ended in the middle of a length-prefixed message. */
export class TruncatedMessageError extends P2PError {
  constructor(bufferedBytes: number) {
    super('ERR_MESSAGE_TRUNCATED', `stream ended with ${bufferedBytes} bytes of an incomplete message`)
  }
}

/** The stream was destroyed (not ended) while messages were being read. */
export class StreamClosedError extends P2PError {
  constructor(message = 'stream closed before it ended') {
    super('ERR_STREAM_CLOSED', message)
  }
}
