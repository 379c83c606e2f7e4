import { randomBytes } from 'node:crypto'
import * as ecc from 'tiny-secp256k1'
import { equalBytes } from '../util/bytes'
import { InvalidKeyError } from './errors'

/**
 * secp256k1 primitives for the handshake and for node keys and ids, on
 * libsecp256k1 compiled to WebAssembly (tiny-secp256k1). Connection set-up is
 * bound by these operations, and the WASM build measured fastest in both Node
 * and Bun, ahead of node:crypto's native OpenSSL curve and @noble/secp256k1
 * (bench/connect.ts; figures in bench/RESULTS.md). One module instance per
 * process; it holds no key material between calls.
 */

/** A secp256k1 key pair able to do ECDH; `publicKey` is 65-byte uncompressed (0x04 prefix). */
export interface KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
  /** x coordinate of (own private key * remote point); throws InvalidKeyError on an invalid remote point. */
  agree(remotePublicKey: Uint8Array): Uint8Array
}

class WasmKeyPair implements KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array

  /** `privateKey` must already be a valid scalar. */
  constructor(privateKey: Uint8Array) {
    this.privateKey = privateKey
    this.publicKey = ecc.pointFromScalar(privateKey, false)!
  }

  agree(remotePublicKey: Uint8Array): Uint8Array {
    if (!ecc.isPoint(remotePublicKey)) throw new InvalidKeyError('remote public key is not a point on secp256k1')
    const shared = ecc.pointMultiply(remotePublicKey, this.privateKey, true)
    // null only for the point at infinity, impossible for a valid point and a scalar below n
    if (shared === null) throw new InvalidKeyError('ECDH produced the point at infinity')
    return shared.subarray(1)
  }
}

/** Whether `key` is a 32-byte scalar in [1, n). */
export function isValidPrivateKey(key: unknown): key is Uint8Array {
  return key instanceof Uint8Array && key.length === 32 && ecc.isPrivate(key)
}

/** A uniformly random valid private key (rejection sampling; a retry has probability ~2^-128). */
export function randomPrivateKey(): Uint8Array {
  for (;;) {
    const key = new Uint8Array(randomBytes(32))
    if (ecc.isPrivate(key)) return key
  }
}

/** A fresh random key pair (ephemeral keys, ECIES one-time keys). */
export function randomKeyPair(): KeyPair {
  return new WasmKeyPair(randomPrivateKey())
}

/** Key pair of a given private key; throws InvalidKeyError if it is not a valid scalar. */
export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  if (!isValidPrivateKey(privateKey)) {
    throw new InvalidKeyError('private key must be a valid 32-byte secp256k1 scalar')
  }
  return new WasmKeyPair(Uint8Array.from(privateKey))
}

/**
 * Key pairs of long-lived node keys, so a node that dials and accepts many
 * connections derives its public key once. Keyed by the caller's array
 * identity and re-checked byte for byte, so a mutated array is not served stale.
 */
const staticKeyCache = new WeakMap<Uint8Array, KeyPair>()

export function staticKeyPair(privateKey: Uint8Array): KeyPair {
  const cached = staticKeyCache.get(privateKey)
  if (cached !== undefined && equalBytes(cached.privateKey, privateKey)) return cached
  const pair = keyPairFromPrivateKey(privateKey)
  staticKeyCache.set(privateKey, pair)
  return pair
}

/**
 * A node's id: its uncompressed secp256k1 public key without the 0x04 prefix
 * (never anything derived from the private key's bytes themselves). Throws a
 * RangeError, which does not echo the key, for anything but a valid scalar.
 */
export function nodeIdFromPrivateKey(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new RangeError('privateKey must be a 32-byte secp256k1 secret key')
  }
  if (!ecc.isPrivate(privateKey)) throw new RangeError('privateKey is not a valid secp256k1 secret key')
  return ecc.pointFromScalar(privateKey, false)!.slice(1)
}

/** 64-byte node id -> 65-byte uncompressed public key; throws InvalidKeyError if not on the curve. */
export function idToPublicKey(id: Uint8Array, what = 'node id'): Uint8Array {
  if (!(id instanceof Uint8Array) || id.length !== 64) throw new InvalidKeyError(`${what} must be 64 bytes`)
  const pub = new Uint8Array(65)
  pub[0] = 0x04
  pub.set(id, 1)
  if (!ecc.isPoint(pub)) throw new InvalidKeyError(`${what} is not a point on secp256k1`)
  return pub
}

/** 65-byte uncompressed public key -> 64-byte node id (a view, no copy). */
export function publicKeyToId(publicKey: Uint8Array): Uint8Array {
  return publicKey.subarray(1)
}

/**
 * Recoverable ECDSA signature of a 32-byte digest, in RLPx layout r(32) || s(32) || v(1).
 * Deterministic (RFC 6979) with low s, as libsecp256k1 always produces.
 */
export function signRecoverable(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const { signature, recoveryId } = ecc.signRecoverable(digest, privateKey)
  const out = new Uint8Array(65)
  out.set(signature, 0)
  out[64] = recoveryId
  return out
}

/** Public key (65 bytes) that produced an RLPx-layout signature over `digest`; throws if none. */
export function recoverPublicKey(signature: Uint8Array, digest: Uint8Array): Uint8Array {
  if (signature.length !== 65 || signature[64]! > 3) throw new Error('signature must be 65 bytes with recovery id 0..3')
  let recovered: Uint8Array | null
  try {
    recovered = ecc.recover(digest, signature.subarray(0, 64), signature[64] as ecc.RecoveryIdType, false)
  } catch (err) {
    // tiny-secp256k1 throws on r or s outside [1, n)
    throw new Error(`signature does not recover a public key: ${(err as Error).message}`)
  }
  if (recovered === null) throw new Error('signature does not recover a public key')
  return recovered
}
