import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { randomKeyPair, type KeyPair } from '../../../src/p2p/crypto/secp256k1'
import { STATIC_SECRET_CACHE_SIZE, staticAgree } from '../../../src/p2p/crypto/static-secret'

/** Counts the scalar multiplications a key pair performs. */
function counting(pair: KeyPair): KeyPair & { calls: number } {
  const counted = {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    calls: 0,
    agree(remote: Uint8Array): Uint8Array {
      counted.calls++
      return pair.agree(remote)
    },
  }
  return counted
}

describe('static-static ECDH cache', () => {
  it('returns the same secret as a fresh agreement, computing it once per remote key', () => {
    const local = counting(randomKeyPair())
    const remote = randomKeyPair()
    const first = staticAgree(local, remote.publicKey)
    const second = staticAgree(local, remote.publicKey)
    expect(Buffer.from(first).equals(Buffer.from(remote.agree(local.publicKey)))).toBe(true)
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true)
    expect(local.calls).toBe(1)
  })

  it('hands out copies: a caller mutating its result cannot poison the table', () => {
    const local = randomKeyPair()
    const remote = randomKeyPair()
    staticAgree(local, remote.publicKey).fill(0)
    expect(Buffer.from(staticAgree(local, remote.publicKey)).equals(Buffer.from(remote.agree(local.publicKey)))).toBe(true)
  })

  it('keeps separate tables per local key', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    const remote = randomKeyPair()
    expect(Buffer.from(staticAgree(a, remote.publicKey)).equals(Buffer.from(staticAgree(b, remote.publicKey)))).toBe(false)
  })

  it('caches nothing for an invalid remote point', () => {
    const local = counting(randomKeyPair())
    const bad = new Uint8Array(65).fill(7)
    bad[0] = 0x04
    expect(() => staticAgree(local, bad)).toThrow()
    expect(() => staticAgree(local, bad)).toThrow()
    expect(local.calls).toBe(2)
  })

  it(`is bounded to ${STATIC_SECRET_CACHE_SIZE} remote keys, evicting the least recently used`, () => {
    // the table only keys on the remote bytes, so a stand-in agreement keeps this test free of EC work
    const local = counting({ privateKey: new Uint8Array(32), publicKey: new Uint8Array(65), agree: (r) => r.slice(1, 33) })
    const remotes = Array.from({ length: STATIC_SECRET_CACHE_SIZE + 1 }, () => new Uint8Array(randomBytes(65)))
    for (const r of remotes) staticAgree(local, r)
    expect(local.calls).toBe(remotes.length)
    staticAgree(local, remotes[remotes.length - 1]!) // newest: still there
    expect(local.calls).toBe(remotes.length)
    staticAgree(local, remotes[0]!) // oldest: evicted, computed again
    expect(local.calls).toBe(remotes.length + 1)
  })
})
