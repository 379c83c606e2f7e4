import { Common, Mainnet } from '@ethereumjs/common'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { ecdsaRecover } from 'ethereum-cryptography/secp256k1-compat.js'
import { secp256k1 } from 'ethereum-cryptography/secp256k1.js'
import { describe, expect, it } from 'vitest'
import { discoveryCommon } from '../../../src/client/net/server/discoverycrypto'

// devp2p's defaults (ethereum-cryptography) are the reference our discv4 crypto must match.
describe('discoveryCommon: discv4 signatures on libsecp256k1', () => {
  const chain = new Common({ chain: Mainnet })
  const common = discoveryCommon(chain)
  const { ecsign, ecdsaRecover: recover } = common.customCrypto

  it('signs exactly as devp2p does (RFC 6979: same r, s and recovery id)', () => {
    for (let i = 0; i < 20; i++) {
      const key = secp256k1.utils.randomPrivateKey()
      const digest = keccak256(Uint8Array.from([i, 1, 2, 3]))
      const ours = ecsign!(digest, key) as unknown as { r: bigint; s: bigint; recovery: number }
      const theirs = secp256k1.sign(digest, key)
      expect({ r: ours.r, s: ours.s, recovery: ours.recovery }).toEqual({ r: theirs.r, s: theirs.s, recovery: theirs.recovery })
    }
  })

  it('recovers the key devp2p recovers, and refuses a signature that recovers none', () => {
    const key = secp256k1.utils.randomPrivateKey()
    const digest = keccak256(Uint8Array.from([9]))
    const sig = secp256k1.sign(digest, key)
    const compact = sig.toCompactRawBytes()
    expect(recover!(compact, sig.recovery, digest)).toEqual(ecdsaRecover(compact, sig.recovery, digest, false))
    expect(recover!(compact, sig.recovery, digest)).toEqual(secp256k1.getPublicKey(key, false))
    expect(() => recover!(new Uint8Array(64), 0, digest)).toThrow()
    expect(() => recover!(compact, 7, digest)).toThrow()
    expect(() => recover!(compact.subarray(1), sig.recovery, digest)).toThrow(/64 bytes/)
  })

  it('leaves the chain Common as it was', () => {
    expect(chain.customCrypto.ecsign).toBeUndefined()
    expect(common.chainId()).toBe(chain.chainId())
    expect(common.hardfork()).toBe(chain.hardfork())
  })
})
