import { equalBytes, shortId } from '../util/bytes'
import { type RlpxIdentityError, RlpxInvalidIdentityError, RlpxUnexpectedIdentityError } from './errors'

/**
 * The identity rule of an RLPx session, one definition for both of the
 * client's paths (this stack's RlpxMuxer and the legacy path's devp2p
 * sessions): the remote is the public key its ECIES handshake authenticated,
 * and its Hello must name exactly that key. The Hello id is the remote's
 * word; the key is proved (a dialed key by the remote's ack and first
 * frame MAC, an accepted remote's by its auth signature and the frame MACs).
 * A remote whose Hello names another id could otherwise be pooled, served
 * and banned under a node it is not. geth checks the same two things in
 * this order, with the same Disconnect reasons.
 */

/** Bytes of a node id: the uncompressed secp256k1 public key without its 0x04 prefix. */
export const NODE_ID_BYTES = 64

/**
 * The Hello id is no node id at all (geth's readProtocolHandshake):
 * RlpxInvalidIdentityError (INVALID_IDENTITY) for a missing id, one that
 * is not 64 bytes, or all zeros; undefined for a well-formed one.
 */
export function invalidHelloIdentity(claimed: unknown, authenticated?: Uint8Array): RlpxInvalidIdentityError | undefined {
  const ids = { claimed: claimed instanceof Uint8Array ? claimed : undefined, authenticated }
  if (!(claimed instanceof Uint8Array)) return new RlpxInvalidIdentityError('the Hello carries no id', ids)
  if (claimed.length !== NODE_ID_BYTES) return new RlpxInvalidIdentityError(`the Hello id is ${claimed.length} bytes, a node id has ${NODE_ID_BYTES}`, ids)
  if (claimed.every((b) => b === 0)) return new RlpxInvalidIdentityError('the Hello id is all zeros', ids)
  return undefined
}

/**
 * Checks a Hello's id against the authenticated key (null: the handshake
 * proved none, which fails closed). In geth's order: an id that is no node
 * id is invalid, a valid one that is not the handshake's key is unexpected
 * (UNEXPECTED_IDENTITY, geth's setupConn). Returns the error to refuse the
 * session with, or undefined when the Hello names the remote itself.
 */
export function checkHelloIdentity(claimed: unknown, authenticated: Uint8Array | null): RlpxIdentityError | undefined {
  const proved = authenticated ?? undefined
  const invalid = invalidHelloIdentity(claimed, proved)
  if (invalid !== undefined) return invalid
  const id = claimed as Uint8Array
  if (proved !== undefined && equalBytes(id, proved)) return undefined
  const who = proved === undefined ? 'no key (handshake incomplete)' : shortId(proved)
  return new RlpxUnexpectedIdentityError(`the Hello names ${shortId(id)}, the ECIES handshake authenticated ${who}`, { claimed: id, authenticated: proved })
}
