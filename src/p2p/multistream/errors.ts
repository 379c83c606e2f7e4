import { P2PError, markTimeout } from '../errors'

/** Base of every multistream-select failure; `code` is one of the ERR_MSS_* below. */
export class MultistreamError extends P2PError {}

/** A protocol id (sent or received) or a message is longer than the limit. */
export class MssProtocolIdTooLongError extends MultistreamError {
  /** Announced length in bytes, or undefined when the length prefix itself was already too big to finish. */
  readonly length: number | undefined
  readonly maxLength: number

  constructor(length: number | undefined, maxLength: number, what = 'protocol id') {
    const size = length === undefined ? '' : ` of ${length} bytes`
    super('ERR_MSS_PROTOCOL_ID_TOO_LONG', `${what}${size} exceeds the limit of ${maxLength} bytes`)
    this.length = length
    this.maxLength = maxLength
  }
}

/** A received message did not end with the mandatory newline. */
export class MssMissingNewlineError extends MultistreamError {
  constructor() {
    super('ERR_MSS_MISSING_NEWLINE', 'multistream message does not end with a newline')
  }
}

/** The first message from the peer was not `/multistream/1.0.0`. */
export class MssInvalidHeaderError extends MultistreamError {
  constructor(received: string) {
    super('ERR_MSS_INVALID_HEADER', `expected the multistream header, received ${JSON.stringify(received)}`)
  }
}

/** The listener answered a proposal with something other than the proposal or `na`, or sent a malformed `ls` list. */
export class MssInvalidResponseError extends MultistreamError {
  constructor(message: string) {
    super('ERR_MSS_INVALID_RESPONSE', message)
  }
}

/** The listener refused every protocol the dialer proposed. */
export class MssUnsupportedProtocolError extends MultistreamError {
  readonly protocols: readonly string[]

  constructor(protocols: readonly string[]) {
    super('ERR_MSS_UNSUPPORTED_PROTOCOL', `remote refused all proposed protocols: ${protocols.join(', ')}`)
    this.protocols = protocols
  }
}

/** The dialer kept proposing unsupported protocols past the listener's limit. */
export class MssTooManyAttemptsError extends MultistreamError {
  constructor(limit: number) {
    super('ERR_MSS_TOO_MANY_ATTEMPTS', `remote proposed more than ${limit} unsupported protocols`)
  }
}

/** The dialer sent more `ls` requests than the listener answers. */
export class MssTooManyLsError extends MultistreamError {
  constructor(limit: number) {
    super('ERR_MSS_TOO_MANY_LS', `remote sent more than ${limit} ls requests`)
  }
}

/** The negotiation did not finish within its deadline. */
export class MssTimeoutError extends MultistreamError {
  static {
    markTimeout(this)
  }

  constructor(timeoutMs: number) {
    super('ERR_MSS_TIMEOUT', `multistream-select negotiation did not finish within ${timeoutMs} ms`)
  }
}

/** The stream ended or closed before the negotiation finished. */
export class MssStreamClosedError extends MultistreamError {
  constructor(how: 'ended' | 'closed') {
    super('ERR_MSS_STREAM_CLOSED', `stream ${how} during multistream-select negotiation`)
  }
}

/** A caller passed no protocols, or an empty id or one containing a newline. */
export class MssInvalidProtocolIdError extends MultistreamError {
  constructor(message: string) {
    super('ERR_MSS_INVALID_PROTOCOL_ID', message)
  }
}
