import { createLegacyTx } from '@ethereumjs/tx'
import { bigIntToUnpaddedBytes, bytesToHex, ecrecover as utilEcrecover } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { Common, testAccounts } from '../../src/chain-config'
import { ecrecover } from '../../src/chain-config/ecrecover'
import { TX_KINDS, makeTestTx } from '../../src/client/testing/transactions'

const common = Common.custom({ chainId: 1234, name: 'testnet' })
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

describe('ecrecover through libsecp256k1', () => {
  it('recovers what @ethereumjs/util recovers, for every envelope (EIP-155 v, y-parity v)', () => {
    for (const [i, kind] of TX_KINDS.entries()) {
      const tx = makeTestTx(common, { kind, from: testAccounts[i]!, nonce: BigInt(i), seed: 'ecrecover', index: i })
      const args = [tx.getHashedMessageToSign(), tx.v!, bigIntToUnpaddedBytes(tx.r!), bigIntToUnpaddedBytes(tx.s!), tx.type === 0 ? common.chainId() : undefined] as const
      expect(bytesToHex(ecrecover(...args))).toBe(bytesToHex(utilEcrecover(...args)))
      expect(tx.getSenderAddress().toString()).toBe(testAccounts[i]!.address.toString())
    }
  })

  it('recovers a high-s signature the way the precompile needs (same key as its low-s twin)', () => {
    const tx = createLegacyTx({ nonce: 0n, to: '0x00000000000000000000000000000000000000aa', gasLimit: 21_000n, gasPrice: 1n }, { common }).sign(testAccounts[0]!.privateKey, false)
    const h = tx.getHashedMessageToSign()
    const recovery = tx.v! - (common.chainId() * 2n + 35n)
    const low = ecrecover(h, 27n + recovery, bigIntToUnpaddedBytes(tx.r!), bigIntToUnpaddedBytes(tx.s!))
    const high = ecrecover(h, 27n + (1n - recovery), bigIntToUnpaddedBytes(tx.r!), bigIntToUnpaddedBytes(N - tx.s!))
    expect(bytesToHex(high)).toBe(bytesToHex(low))
    expect(bytesToHex(high)).toBe(bytesToHex(utilEcrecover(h, 27n + (1n - recovery), bigIntToUnpaddedBytes(tx.r!), bigIntToUnpaddedBytes(N - tx.s!))))
  })

  it('throws for a v that names no recovery id and for an r or s out of range, as @ethereumjs/util does', () => {
    const h = new Uint8Array(32).fill(1)
    const one = Uint8Array.of(1)
    expect(() => ecrecover(h, 29n, one, one)).toThrow(/v value/)
    expect(() => utilEcrecover(h, 29n, one, one)).toThrow(/v value/)
    expect(() => ecrecover(h, 27n, new Uint8Array(32), one)).toThrow(/Invalid signature/)
    expect(() => ecrecover(h, 27n, bigIntToUnpaddedBytes(N), one)).toThrow(/Invalid signature/)
  })
})
