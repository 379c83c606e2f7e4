import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { DecryptError } from './errors'
import { randomKeyPair, type KeyPair } from './secp256k1'

/**
 * RLPx's ECIES (as in geth's crypto/ecies with the secp256k1/AES-128/SHA-256
 * parameters): the asymmetric encryption that seals auth and ack packets.
 *
 *   R = r*G (fresh key), z = x(r*K_remote), k = concatKDF(z) (32 bytes)
 *   kE = k[0:16], kM = sha256(k[16:32])
 *   c = AES-128-CTR(kE, iv, plaintext)
 *   tag = HMAC-SHA256(kM, iv || c || sharedMacData)
 *   output = R (65, uncompressed) || iv (16) || c || tag (32)
 */

/** Bytes ECIES adds to a plaintext: public key, IV and tag. */
export const ECIES_OVERHEAD = 65 + 16 + 32

const EMPTY = new Uint8Array(0)

/**
 * NIST SP 800-56 concatenation KDF with SHA-256, for the 32 bytes ECIES needs:
 * exactly one round, sha256(counter=1 || z).
 */
function concatKdf32(z: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0, 0, 0, 1)).update(z).digest()
}

function macKey(k: Buffer): Buffer {
  return createHash('sha256').update(k.subarray(16, 32)).digest()
}

function tag(km: Uint8Array, ivAndCiphertext: Uint8Array, sharedMacData: Uint8Array): Buffer {
  return createHmac('sha256', km).update(ivAndCiphertext).update(sharedMacData).digest()
}

/** Seals `plaintext` to `remotePublicKey` (65 bytes); `sharedMacData` is authenticated, not sent. */
export function eciesEncrypt(remotePublicKey: Uint8Array, plaintext: Uint8Array, sharedMacData: Uint8Array = EMPTY): Uint8Array {
  const oneTime = randomKeyPair()
  const k = concatKdf32(oneTime.agree(remotePublicKey))
  const iv = randomBytes(16)
  const cipher = createCipheriv('aes-128-ctr', k.subarray(0, 16), iv)
  const out = new Uint8Array(ECIES_OVERHEAD + plaintext.length)
  out.set(oneTime.publicKey, 0)
  out.set(iv, 65)
  out.set(cipher.update(plaintext), 81)
  const ivAndCiphertext = out.subarray(65, 81 + plaintext.length)
  out.set(tag(macKey(k), ivAndCiphertext, sharedMacData), 81 + plaintext.length)
  return out
}

/** Opens an ECIES packet sealed to `key`; throws DecryptError if it was not, or was altered. */
export function eciesDecrypt(key: KeyPair, data: Uint8Array, sharedMacData: Uint8Array = EMPTY): Uint8Array {
  if (data.length < ECIES_OVERHEAD) throw new DecryptError(`ECIES packet of ${data.length} bytes is shorter than its overhead`)
  if (data[0] !== 0x04) throw new DecryptError('ECIES packet does not start with an uncompressed public key')
  let z: Uint8Array
  try {
    z = key.agree(data.subarray(0, 65))
  } catch (err) {
    throw new DecryptError('ECIES packet carries an invalid public key', err)
  }
  const k = concatKdf32(z)
  const tagStart = data.length - 32
  const ivAndCiphertext = data.subarray(65, tagStart)
  const expected = tag(macKey(k), ivAndCiphertext, sharedMacData)
  if (!timingSafeEqual(expected, data.subarray(tagStart))) {
    throw new DecryptError('ECIES tag mismatch: packet not addressed to this node, or corrupted')
  }
  const decipher = createDecipheriv('aes-128-ctr', k.subarray(0, 16), ivAndCiphertext.subarray(0, 16))
  return decipher.update(ivAndCiphertext.subarray(16))
}
