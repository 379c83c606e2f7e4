import * as noble from '@noble/secp256k1'
import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError } from '../../../src/p2p/crypto/errors'
import {
  idToPublicKey,
  isValidPrivateKey,
  keyPairFromPrivateKey,
  randomKeyPair,
  recoverPublicKey,
  signRecoverable,
} from '../../../src/p2p/crypto/secp256k1'

noble.hashes.sha256 ??= (m: Uint8Array) => createHash('sha256').update(m).digest()
noble.hashes.hmacSha256 ??= (k: Uint8Array, m: Uint8Array) => createHmac('sha256', k).update(m).digest()

const N = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141')
const scalar = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))

// The WASM build (libsecp256k1) is checked against an independent implementation, @noble/secp256k1.
describe('secp256k1 primitives (libsecp256k1 WASM)', () => {
  it('derives the same public keys and ECDH secrets as noble', () => {
    for (let i = 0; i < 20; i++) {
      const a = randomKeyPair()
      const b = randomKeyPair()
      expect(a.publicKey).toEqual(noble.getPublicKey(a.privateKey, false))
      const ours = a.agree(b.publicKey)
      expect(ours).toEqual(b.agree(a.publicKey))
      expect(ours).toEqual(noble.getSharedSecret(a.privateKey, b.publicKey, true).subarray(1))
    }
  })

  it('signs low-s recoverable signatures that noble verifies and recovers, and recovers noble signatures', () => {
    for (let i = 0; i < 20; i++) {
      const key = randomKeyPair()
      const digest = Uint8Array.from(createHash('sha256').update(String(i)).digest())
      const sig = signRecoverable(digest, key.privateKey)
      expect(sig.length).toBe(65)
      expect(noble.verify(sig.subarray(0, 64), digest, key.publicKey, { prehash: false, lowS: true })).toBe(true)
      expect(recoverPublicKey(sig, digest)).toEqual(key.publicKey)
      const nobleSig = noble.sign(digest, key.privateKey, { prehash: false, format: 'recovered' })
      const rlpxLayout = new Uint8Array(65)
      rlpxLayout.set(nobleSig.subarray(1), 0)
      rlpxLayout[64] = nobleSig[0]!
      expect(recoverPublicKey(rlpxLayout, digest)).toEqual(key.publicKey)
    }
  })

  it('rejects scalars outside [1, n) and points off the curve with InvalidKeyError', () => {
    expect(isValidPrivateKey(scalar(0n))).toBe(false)
    expect(isValidPrivateKey(scalar(N))).toBe(false)
    expect(isValidPrivateKey(scalar(N - 1n))).toBe(true)
    expect(isValidPrivateKey(new Uint8Array(31).fill(1))).toBe(false)
    expect(() => keyPairFromPrivateKey(scalar(N))).toThrow(InvalidKeyError)
    const offCurve = new Uint8Array(64).fill(7)
    expect(() => idToPublicKey(offCurve)).toThrow(InvalidKeyError)
    const bad = new Uint8Array(65)
    bad[0] = 4
    bad.set(offCurve, 1)
    expect(() => randomKeyPair().agree(bad)).toThrow(InvalidKeyError)
    expect(() => randomKeyPair().agree(new Uint8Array(33))).toThrow(InvalidKeyError)
  })

  it('rejects signatures that recover nothing', () => {
    const digest = new Uint8Array(32).fill(9)
    expect(() => recoverPublicKey(new Uint8Array(65), digest)).toThrow(/does not recover/)
    const highId = signRecoverable(digest, randomKeyPair().privateKey)
    highId[64] = 4
    expect(() => recoverPublicKey(highId, digest)).toThrow(/recovery id/)
    const rOverN = signRecoverable(digest, randomKeyPair().privateKey)
    rOverN.set(scalar(N), 0)
    expect(() => recoverPublicKey(rOverN, digest)).toThrow(/does not recover/)
  })
})
