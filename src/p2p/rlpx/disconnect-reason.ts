/**
 * The devp2p Disconnect reason codes (RLPx base protocol, message 0x01).
 * One definition for the whole code base: the legacy path hands these to
 * @ethereumjs/devp2p (whose `DISCONNECT_REASON` has the same numbers), the
 * modular stack's RLPx session sends and decodes them itself, and the client
 * says why it ends a session with one of them on both paths.
 */
export enum DisconnectReason {
  DISCONNECT_REQUESTED = 0x00,
  NETWORK_ERROR = 0x01,
  PROTOCOL_ERROR = 0x02,
  USELESS_PEER = 0x03,
  TOO_MANY_PEERS = 0x04,
  ALREADY_CONNECTED = 0x05,
  INCOMPATIBLE_VERSION = 0x06,
  INVALID_IDENTITY = 0x07,
  CLIENT_QUITTING = 0x08,
  UNEXPECTED_IDENTITY = 0x09,
  SAME_IDENTITY = 0x0a,
  TIMEOUT = 0x0b,
  SUBPROTOCOL_ERROR = 0x10,
}

/** Human-readable text of each reason, as operators know them from geth's logs. */
const REASON_TEXT: Record<DisconnectReason, string> = {
  [DisconnectReason.DISCONNECT_REQUESTED]: 'disconnect requested',
  [DisconnectReason.NETWORK_ERROR]: 'network error',
  [DisconnectReason.PROTOCOL_ERROR]: 'breach of protocol',
  [DisconnectReason.USELESS_PEER]: 'useless peer',
  [DisconnectReason.TOO_MANY_PEERS]: 'too many peers',
  [DisconnectReason.ALREADY_CONNECTED]: 'already connected',
  [DisconnectReason.INCOMPATIBLE_VERSION]: 'incompatible p2p protocol version',
  [DisconnectReason.INVALID_IDENTITY]: 'invalid node identity',
  [DisconnectReason.CLIENT_QUITTING]: 'client quitting',
  [DisconnectReason.UNEXPECTED_IDENTITY]: 'unexpected identity',
  [DisconnectReason.SAME_IDENTITY]: 'connected to self',
  [DisconnectReason.TIMEOUT]: 'read timeout',
  [DisconnectReason.SUBPROTOCOL_ERROR]: 'subprotocol error',
}

/** True when `code` is one of the reason codes devp2p defines. */
export function isDisconnectReason(code: number): code is DisconnectReason {
  return Object.prototype.hasOwnProperty.call(REASON_TEXT, code)
}

/** `'subprotocol error (0x10)'`; an unknown code reads `'unknown reason (0x..)'`. */
export function describeDisconnectReason(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`
  return isDisconnectReason(code) ? `${REASON_TEXT[code]} (${hex})` : `unknown reason (${hex})`
}
