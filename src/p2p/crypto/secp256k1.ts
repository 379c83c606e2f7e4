import { createECDH, createHash, createHmac, type ECDH } from 'node:crypto'
import * as secp from '@noble/secp256k1'
import { bytesEqual } from './bytes'
import { InvalidKeyError } from './errors'

/**
 * secp256k1 primitives for the handshake. ECDH and key generation use
 * node:crypto's native implementation where the runtime has it (Node: ~3x
 * @noble/secp256k1); Bun's BoringSSL lacks the curve, so it falls back to noble.
 * Signing and public-key recovery always use noble (node:crypto has no recovery).
 */

// noble's synchronous sign() needs these two; node:crypto's are native in both runtimes.
// Set only when unset so an application's own configuration wins.
secp.hashes.sha256 ??= (msg: Uint8Array) => createHash('sha256').update(msg).digest()
secp.hashes.hmacSha256 ??= (key: Uint8Array, msg: Uint8Array) => createHmac('sha256', key).update(msg).digest()

function probeNativeEcdh(): boolean {
  try {
    createECDH('secp256k1').generateKeys()
    return true
  } catch {
    return false
  }
}

/** Whether ECDH/key generation run natively in this runtime (false under Bun). */
export const NATIVE_ECDH = probeNativeEcdh()

/** A secp256k1 key pair able to do ECDH; `publicKey` is 65-byte uncompressed (0x04 prefix). */
export interface KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
  /** x coordinate of (own private key * remote point); throws on an invalid remote point. */
  agree(remotePublicKey: Uint8Array): Uint8Array
}

class NativeKeyPair implements KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
  readonly #ecdh: ECDH

  constructor(ecdh: ECDH) {
    this.#ecdh = ecdh
    this.privateKey = leftPad32(ecdh.getPrivateKey())
    this.publicKey = ecdh.getPublicKey()
  }

  agree(remotePublicKey: Uint8Array): Uint8Array {
    return this.#ecdh.computeSecret(remotePublicKey)
  }
}

class NobleKeyPair implements KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array

  constructor(privateKey: Uint8Array) {
    this.privateKey = privateKey
    this.publicKey = secp.getPublicKey(privateKey, false)
  }

  agree(remotePublicKey: Uint8Array): Uint8Array {
    return secp.getSharedSecret(this.privateKey, remotePublicKey, true).subarray(1)
  }
}

function leftPad32(b: Uint8Array): Uint8Array {
  if (b.length === 32) return b
  const out = new Uint8Array(32)
  out.set(b, 32 - b.length)
  return out
}

/** A fresh random key pair (ephemeral keys, ECIES one-time keys). */
export function randomKeyPair(): KeyPair {
  if (NATIVE_ECDH) {
    const ecdh = createECDH('secp256k1')
    ecdh.generateKeys()
    return new NativeKeyPair(ecdh)
  }
  return new NobleKeyPair(secp.utils.randomSecretKey())
}

/** Key pair of a given private key; throws InvalidKeyError if it is not a valid scalar. */
export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32 || !secp.utils.isValidSecretKey(privateKey)) {
    throw new InvalidKeyError('private key must be a valid 32-byte secp256k1 scalar')
  }
  if (NATIVE_ECDH) {
    const ecdh = createECDH('secp256k1')
    ecdh.setPrivateKey(privateKey)
    return new NativeKeyPair(ecdh)
  }
  return new NobleKeyPair(Uint8Array.from(privateKey))
}

/**
 * Key pairs of long-lived node keys, so a node that dials and accepts many
 * connections derives its public key once. Keyed by the caller's array
 * identity and re-checked byte for byte, so a mutated array is not served stale.
 */
const staticKeyCache = new WeakMap<Uint8Array, KeyPair>()

export function staticKeyPair(privateKey: Uint8Array): KeyPair {
  const cached = staticKeyCache.get(privateKey)
  if (cached !== undefined && bytesEqual(cached.privateKey, privateKey)) return cached
  const pair = keyPairFromPrivateKey(privateKey)
  staticKeyCache.set(privateKey, pair)
  return pair
}

/** 64-byte node id -> 65-byte uncompressed public key; throws InvalidKeyError if not on the curve. */
export function idToPublicKey(id: Uint8Array, what = 'node id'): Uint8Array {
  if (!(id instanceof Uint8Array) || id.length !== 64) throw new InvalidKeyError(`${what} must be 64 bytes`)
  const pub = new Uint8Array(65)
  pub[0] = 0x04
  pub.set(id, 1)
  try {
    secp.Point.fromBytes(pub).assertValidity()
  } catch (err) {
    throw new InvalidKeyError(`${what} is not a point on secp256k1`, err)
  }
  return pub
}

/** 65-byte uncompressed public key -> 64-byte node id (a view, no copy). */
export function publicKeyToId(publicKey: Uint8Array): Uint8Array {
  return publicKey.subarray(1)
}

/** Recoverable ECDSA signature of a 32-byte digest, in RLPx layout r(32) || s(32) || v(1). */
export function signRecoverable(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const recovered = secp.sign(digest, privateKey, { prehash: false, format: 'recovered' })
  // noble's "recovered" layout is v || r || s
  const out = new Uint8Array(65)
  out.set(recovered.subarray(1, 65), 0)
  out[64] = recovered[0]!
  return out
}

/** Public key (65 bytes) that produced an RLPx-layout signature over `digest`; throws if none. */
export function recoverPublicKey(signature: Uint8Array, digest: Uint8Array): Uint8Array {
  if (signature.length !== 65 || signature[64]! > 3) throw new Error('signature must be 65 bytes with recovery id 0..3')
  const recovered = new Uint8Array(65)
  recovered[0] = signature[64]!
  recovered.set(signature.subarray(0, 64), 1)
  return secp.recoverPublicKey(recovered, digest, { prehash: false, isCompressed: false })
}
