import { P2PError } from '../errors'
import type { CapabilityName } from './capabilities'
import { DisconnectReason, describeDisconnectReason } from './disconnect-reason'

/**
 * Errors of the devp2p base protocol. Each one that ends a session carries
 * the Disconnect `reason` sent to the remote (or, for RlpxRemoteDisconnectError,
 * the one the remote sent), so callers report it without mapping codes.
 */
export class RlpxError extends P2PError {
  readonly reason: DisconnectReason

  constructor(code: string, reason: DisconnectReason, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.reason = reason
  }
}

/** The remote ended the session with a Disconnect message. `reason` is its reason (an unknown code is kept as sent). */
export class RlpxRemoteDisconnectError extends RlpxError {
  constructor(reason: number) {
    super('ERR_RLPX_REMOTE_DISCONNECT', reason as DisconnectReason, `remote disconnected: ${describeDisconnectReason(reason)}`)
  }
}

/** The ids behind an identity refusal: what the Hello named, and the key the ECIES handshake proved. */
export interface HelloIds {
  /** The Hello's id, when it carried bytes. */
  claimed?: Uint8Array
  /** The remote's ECIES-authenticated key, when known: who the remote really is. */
  authenticated?: Uint8Array
}

/** A Hello whose id is not the remote's authenticated key (see checkHelloIdentity in identity.ts). */
export abstract class RlpxIdentityError extends RlpxError {
  readonly claimedId: Uint8Array | undefined
  readonly authenticatedId: Uint8Array | undefined

  constructor(code: string, reason: DisconnectReason, message: string, ids: HelloIds) {
    super(code, reason, message)
    this.claimedId = ids.claimed
    this.authenticatedId = ids.authenticated
  }
}

/** The Hello names another node than the one the ECIES handshake authenticated (geth: DiscUnexpectedIdentity). */
export class RlpxUnexpectedIdentityError extends RlpxIdentityError {
  constructor(message: string, ids: HelloIds = {}) {
    super('ERR_RLPX_UNEXPECTED_IDENTITY', DisconnectReason.UNEXPECTED_IDENTITY, message, ids)
  }
}

/** The Hello's node id is not a 64-byte public key: missing, wrong size, all zero (geth: DiscInvalidIdentity). */
export class RlpxInvalidIdentityError extends RlpxIdentityError {
  constructor(message: string, ids: HelloIds = {}) {
    super('ERR_RLPX_INVALID_IDENTITY', DisconnectReason.INVALID_IDENTITY, message, ids)
  }
}

/** The two Hellos share no capability: nothing could run on the session. `remoteCapabilities` is what the remote offered. */
export class RlpxNoSharedCapabilityError extends RlpxError {
  constructor(
    message: string,
    readonly remoteCapabilities: readonly CapabilityName[] = [],
  ) {
    super('ERR_RLPX_NO_SHARED_CAPABILITY', DisconnectReason.USELESS_PEER, message)
  }
}

/** A message the session state does not allow: anything but Hello/Disconnect first, a second Hello. */
export class RlpxUnexpectedMessageError extends RlpxError {
  constructor(message: string) {
    super('ERR_RLPX_UNEXPECTED_MESSAGE', DisconnectReason.PROTOCOL_ERROR, message)
  }
}

/** A message that cannot be parsed: bad message-id encoding, bad RLP in a base protocol message. */
export class RlpxMalformedMessageError extends RlpxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RLPX_MALFORMED_MESSAGE', DisconnectReason.PROTOCOL_ERROR, message, options)
  }
}

/** A message id outside the base protocol and every shared capability's range. */
export class RlpxUnknownMessageIdError extends RlpxError {
  constructor(readonly messageId: number) {
    super('ERR_RLPX_UNKNOWN_MESSAGE_ID', DisconnectReason.PROTOCOL_ERROR, `message id 0x${messageId.toString(16)} belongs to no shared capability`)
  }
}

/** A message larger than its limit, inbound (from snappy's length header, before decompressing) or outbound. */
export class RlpxMessageTooLargeError extends RlpxError {
  constructor(
    readonly size: number,
    readonly limit: number,
    what: string,
  ) {
    super('ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR, `${what} of ${size} bytes exceeds the limit of ${limit} bytes`)
  }
}

/** Snappy data that does not decode to exactly the length its header announces. */
export class RlpxSnappyError extends RlpxError {
  constructor(message: string) {
    super('ERR_RLPX_SNAPPY_CORRUPT', DisconnectReason.PROTOCOL_ERROR, `invalid snappy data: ${message}`)
  }
}

/** More Pings within the flood window than `maxPingsPerWindow`. */
export class RlpxPingFloodError extends RlpxError {
  constructor(count: number, windowMs: number) {
    super('ERR_RLPX_PING_FLOOD', DisconnectReason.PROTOCOL_ERROR, `${count} Pings within ${windowMs} ms`)
  }
}

/** A Ping stayed unanswered for `pongTimeoutMs`. */
export class RlpxPingTimeoutError extends RlpxError {
  constructor(readonly timeoutMs: number) {
    super('ERR_RLPX_PING_TIMEOUT', DisconnectReason.TIMEOUT, `no Pong within ${timeoutMs} ms`)
  }
}

/** The remote sent no Hello within `helloTimeoutMs`. */
export class RlpxHelloTimeoutError extends RlpxError {
  constructor(readonly timeoutMs: number) {
    super('ERR_RLPX_HELLO_TIMEOUT', DisconnectReason.TIMEOUT, `no Hello within ${timeoutMs} ms`)
  }
}

/**
 * A capability stream was reset or destroyed locally, or wrote something that
 * is not a message of its capability (a code outside its range, broken
 * framing): RLPx cannot end one capability alone, so the session ends with
 * SUBPROTOCOL_ERROR.
 */
export class RlpxCapabilityStreamError extends RlpxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RLPX_CAPABILITY_STREAM', DisconnectReason.SUBPROTOCOL_ERROR, message, options)
  }
}

/**
 * The connection under the session ended without a Disconnect message (TCP
 * closed, reset, a frame failed its MAC). `cause` is the channel's error.
 */
export class RlpxConnectionLostError extends RlpxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RLPX_CONNECTION_LOST', DisconnectReason.NETWORK_ERROR, message, options)
  }
}

/** An operation on a session that is disconnecting or closed (the session itself is not affected). */
export class RlpxSessionClosedError extends P2PError {
  constructor(message = 'RLPx session is closed') {
    super('ERR_RLPX_SESSION_CLOSED', message)
  }
}

/** `openStream` for protocols none of which is a shared capability still unclaimed (the session is not affected). */
export class RlpxCapabilityNotSharedError extends P2PError {
  constructor(
    readonly protocols: readonly string[],
    message?: string,
  ) {
    super('ERR_RLPX_CAPABILITY_NOT_SHARED', message ?? `no shared capability for ${protocols.join(', ')}`)
  }
}

/** An RlpxMuxer option is out of range. */
export class RlpxInvalidOptionError extends P2PError {
  constructor(message: string) {
    super('ERR_RLPX_INVALID_OPTION', message)
  }
}
