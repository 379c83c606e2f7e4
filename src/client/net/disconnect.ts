import { DisconnectReason, RlpxError, RlpxRemoteDisconnectError, describeDisconnectReason } from '../../p2p'
import { NoSharedCapabilityError } from '../errors'

import { PeerDisconnectedError, StatusTimeoutError } from './protocol/errors'
import { HelloIdentityError } from './server/rlpx/identity'

/**
 * Why the client ends a session, in devp2p's Disconnect reasons (the one
 * enum, `DisconnectReason` of src/p2p), chosen as geth chooses them:
 *
 * | the session ends because                                  | reason                     |
 * |-----------------------------------------------------------|----------------------------|
 * | the remote broke the eth protocol: a malformed or         | SUBPROTOCOL_ERROR (0x10)   |
 * |   unexpected message, a message before Status, a second   |                            |
 * |   Status, another chain's Status, a request flood         |                            |
 * | no Status within statusTimeoutMs                          | TIMEOUT (0x0b)             |
 * | Hello id not 64 bytes, or all zeros                       | INVALID_IDENTITY (0x07)    |
 * | Hello id is not the key the ECIES handshake authenticated | UNEXPECTED_IDENTITY (0x09) |
 * | the remote is us                                          | SAME_IDENTITY (0x0a)       |
 * | a second session with the same node (tie-break)           | ALREADY_CONNECTED (0x05)   |
 * | every peer slot is taken                                  | TOO_MANY_PEERS (0x04)      |
 * | no capability in common; a banned node                    | USELESS_PEER (0x03)        |
 * | the node stops                                            | CLIENT_QUITTING (0x08)     |
 * | anything else asked for locally (API, tests)              | DISCONNECT_REQUESTED (0x00)|
 *
 * geth turns every error a protocol handler returns into SUBPROTOCOL_ERROR
 * (p2p's discReasonForError), including a failed eth handshake, so a
 * malformed message is reported as that, not as USELESS_PEER. Every RLPx
 * session gets the reason in a devp2p Disconnect (the legacy path's and
 * the modular stack's alike; an RlpxError that ended one carries the reason
 * the stack sent); mplex has no such message, so on an mplex connection the
 * reason is what the logs and the PEER_DISCONNECTED / CONNECTION_CLOSED
 * events say.
 */
export function disconnectReasonFor(err: unknown): DisconnectReason {
  if (err === undefined || err instanceof PeerDisconnectedError) return DisconnectReason.DISCONNECT_REQUESTED
  if (err instanceof StatusTimeoutError) return DisconnectReason.TIMEOUT
  if (err instanceof HelloIdentityError || err instanceof RlpxError) return err.reason
  if (err instanceof NoSharedCapabilityError) return DisconnectReason.USELESS_PEER
  return DisconnectReason.SUBPROTOCOL_ERROR
}

/** The text events and logs carry: `'subprotocol error (0x10): banned: ...'`. */
export function describeDisconnect(reason: number, detail?: string): string {
  const text = describeDisconnectReason(reason)
  return detail === undefined || detail === '' ? text : `${text}: ${detail}`
}

/** Why a connection ended, from its close reason: an RLPx Disconnect reads as its reason code. */
export function describeConnectionEnd(err: Error | undefined): string {
  if (err === undefined) return 'connection closed'
  if (err instanceof RlpxRemoteDisconnectError) return describeDisconnect(err.reason, 'sent by the remote')
  if (err instanceof RlpxError) return describeDisconnect(err.reason, err.message)
  return `connection lost: ${err.message}`
}
