import { equalsBytes } from '@ethereumjs/util'

import { DisconnectReason } from '../../../../p2p'
import { PeerError } from '../../../errors'
import { peerIdHex } from '../../peer/peer'

/**
 * The identity rule of an RLPx session: the remote is the public key its
 * ECIES handshake authenticated, and its devp2p Hello must name exactly that
 * key. The Hello id is the remote's word; the key is proved (the dialed key
 * by the remote's ack and first frame MAC, an accepting node's remote by the
 * auth signature and the frame MACs). A remote whose Hello names another id
 * could otherwise be pooled, served and banned under a node it is not.
 * geth checks the same two things, with the same Disconnect reasons.
 */

/** Bytes of a node id: the uncompressed secp256k1 public key without its 0x04 prefix. */
export const NODE_ID_LENGTH = 64

/** A devp2p Hello whose id is not the remote's authenticated key; the session is refused with `reason`. */
export abstract class HelloIdentityError extends PeerError {
  abstract readonly reason: DisconnectReason.INVALID_IDENTITY | DisconnectReason.UNEXPECTED_IDENTITY
  /** The key the ECIES handshake authenticated (hex), when known: who the remote really is. */
  readonly authenticatedId?: string
  /** The id the Hello named (hex), when it carried bytes. */
  readonly claimedId?: string

  constructor(code: `ERR_PEER_${string}`, message: string, ids: { authenticated: Uint8Array | null; claimed: unknown }) {
    super(code, message)
    if (ids.authenticated !== null) this.authenticatedId = peerIdHex(ids.authenticated)
    if (ids.claimed instanceof Uint8Array) this.claimedId = peerIdHex(ids.claimed)
  }
}

/** The Hello id is not a node id at all: missing, not 64 bytes, or all zeros (geth: DiscInvalidIdentity). */
export class InvalidHelloIdError extends HelloIdentityError {
  readonly reason = DisconnectReason.INVALID_IDENTITY

  constructor(detail: string, ids: { authenticated: Uint8Array | null; claimed: unknown }) {
    super('ERR_PEER_INVALID_IDENTITY', `invalid Hello id: ${detail}`, ids)
  }
}

/** The Hello names another node than the key the ECIES handshake authenticated (geth: DiscUnexpectedIdentity). */
export class UnexpectedHelloIdError extends HelloIdentityError {
  readonly reason = DisconnectReason.UNEXPECTED_IDENTITY

  constructor(ids: { authenticated: Uint8Array | null; claimed: Uint8Array }) {
    const claimed = peerIdHex(ids.claimed).slice(0, 16)
    const proved = ids.authenticated === null ? 'no key (handshake incomplete)' : `${peerIdHex(ids.authenticated).slice(0, 16)}…`
    super('ERR_PEER_UNEXPECTED_IDENTITY', `Hello claims id ${claimed}…, the ECIES handshake authenticated ${proved}`, ids)
  }
}

/**
 * Checks a Hello's id against the authenticated key. In geth's order: an id
 * that is no node id is invalid (readProtocolHandshake), a valid one that is
 * not the handshake's key is unexpected (setupConn). Returns the error to
 * refuse the session with, or undefined when the Hello names the remote itself.
 */
export function checkHelloId(claimed: unknown, authenticated: Uint8Array | null): HelloIdentityError | undefined {
  const ids = { authenticated, claimed }
  if (!(claimed instanceof Uint8Array)) return new InvalidHelloIdError('the Hello carries no id', ids)
  if (claimed.length !== NODE_ID_LENGTH) return new InvalidHelloIdError(`${claimed.length} bytes, a node id has ${NODE_ID_LENGTH}`, ids)
  if (claimed.every((b) => b === 0)) return new InvalidHelloIdError('all zeros', ids)
  if (authenticated === null || !equalsBytes(claimed, authenticated)) return new UnexpectedHelloIdError({ authenticated, claimed })
  return undefined
}
