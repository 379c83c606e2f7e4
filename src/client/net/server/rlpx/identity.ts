import { type DisconnectReason, type RlpxIdentityError, RlpxUnexpectedIdentityError, checkHelloIdentity } from '../../../../p2p'
import { PeerError } from '../../../errors'
import { peerIdHex } from '../../peer/peer'

/**
 * The client's report of a session refused by the RLPx identity rule
 * (`checkHelloIdentity` in src/p2p/rlpx/identity.ts, the one definition of
 * the rule): a Hello that names anything but the remote's ECIES-authenticated
 * key. Both paths report it alike: the legacy path checks devp2p's Hello with
 * `checkHelloId`, the modular stack's RlpxMuxer refuses it itself and the
 * P2PServer turns its error into one of these with `helloIdentityError`.
 * `reason` is the Disconnect reason the remote was sent (geth's).
 */

/** A devp2p Hello whose id is not the remote's authenticated key; the session is refused with `reason`. */
export abstract class HelloIdentityError extends PeerError {
  readonly reason: DisconnectReason
  /** The key the ECIES handshake authenticated (hex), when known: who the remote really is. */
  readonly authenticatedId?: string
  /** The id the Hello named (hex), when it carried bytes. */
  readonly claimedId?: string

  constructor(code: `ERR_PEER_${string}`, refusal: RlpxIdentityError) {
    super(code, refusal.message, { cause: refusal })
    this.reason = refusal.reason
    if (refusal.authenticatedId !== undefined) this.authenticatedId = peerIdHex(refusal.authenticatedId)
    if (refusal.claimedId !== undefined) this.claimedId = peerIdHex(refusal.claimedId)
  }
}

/** The Hello id is not a node id at all: missing, not 64 bytes, or all zeros (INVALID_IDENTITY). */
export class InvalidHelloIdError extends HelloIdentityError {
  constructor(refusal: RlpxIdentityError) {
    super('ERR_PEER_INVALID_IDENTITY', refusal)
  }
}

/** The Hello names another node than the key the ECIES handshake authenticated (UNEXPECTED_IDENTITY). */
export class UnexpectedHelloIdError extends HelloIdentityError {
  constructor(refusal: RlpxIdentityError) {
    super('ERR_PEER_UNEXPECTED_IDENTITY', refusal)
  }
}

/** The client's error for the stack's refusal. */
export function helloIdentityError(refusal: RlpxIdentityError): HelloIdentityError {
  return refusal instanceof RlpxUnexpectedIdentityError ? new UnexpectedHelloIdError(refusal) : new InvalidHelloIdError(refusal)
}

/**
 * Checks a Hello's id against the authenticated key (the stack's rule).
 * Returns the error to refuse the session with, or undefined when the Hello
 * names the remote itself.
 */
export function checkHelloId(claimed: unknown, authenticated: Uint8Array | null): HelloIdentityError | undefined {
  const refusal = checkHelloIdentity(claimed, authenticated)
  return refusal === undefined ? undefined : helloIdentityError(refusal)
}
