import { keccak_256 } from '@noble/hashes/sha3.js'
import { concatBytes, xorBytes } from '../util/bytes'

/**
 * Session secrets of one RLPx connection, derived as the RLPx spec does:
 *
 *   shared-secret = keccak256(ephemeral-key || keccak256(recipient-nonce || initiator-nonce))
 *   aes-secret    = keccak256(ephemeral-key || shared-secret)
 *   mac-secret    = keccak256(ephemeral-key || aes-secret)
 *   egress-mac    = keccak256 state seeded with (mac-secret ^ remote-nonce) || packet we sent
 *   ingress-mac   = keccak256 state seeded with (mac-secret ^ own-nonce) || packet we received
 *
 * where ephemeral-key is the ECDH x coordinate of the two ephemeral keys.
 * (One-shot keccak here is noble's: a handful of bytes once per connection.)
 */
export interface Secrets {
  aesSecret: Uint8Array
  macSecret: Uint8Array
  /** Bytes the egress MAC absorbs before the first frame. */
  egressMacSeed: Uint8Array
  /** Bytes the ingress MAC absorbs before the first frame. */
  ingressMacSeed: Uint8Array
}

export interface SecretInputs {
  initiator: boolean
  /** x coordinate of ECDH(own ephemeral private key, remote ephemeral public key). */
  ephemeralShared: Uint8Array
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  /** Our auth (initiator) or ack (recipient), exactly as sent. */
  localPacket: Uint8Array
  /** Their ack (initiator) or auth (recipient), exactly as received. */
  remotePacket: Uint8Array
}

export function deriveSecrets(p: SecretInputs): Secrets {
  const initiatorNonce = p.initiator ? p.localNonce : p.remoteNonce
  const recipientNonce = p.initiator ? p.remoteNonce : p.localNonce
  const nonceHash = keccak_256(concatBytes(recipientNonce, initiatorNonce))
  const sharedSecret = keccak_256(concatBytes(p.ephemeralShared, nonceHash))
  const aesSecret = keccak_256(concatBytes(p.ephemeralShared, sharedSecret))
  const macSecret = keccak_256(concatBytes(p.ephemeralShared, aesSecret))
  return {
    aesSecret,
    macSecret,
    egressMacSeed: concatBytes(xorBytes(macSecret, p.remoteNonce), p.localPacket),
    ingressMacSeed: concatBytes(xorBytes(macSecret, p.localNonce), p.remotePacket),
  }
}
