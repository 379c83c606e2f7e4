import { genTransactionsTrieRoot, genWithdrawalsTrieRoot } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { createLegacyTx } from '@ethereumjs/tx'
import { KECCAK256_RLP, bytesToHex, createWithdrawal } from '@ethereumjs/util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

import { Common } from '../../../src/chain-config'
import { orderedTrieRoot } from '../../../src/client/blockchain/ordered-trie'

const common = Common.custom({ chainId: 1234, name: 'testnet' })

/** Unsigned legacy transactions whose serializations are the given payload sizes/contents. */
function txsFrom(datas: Uint8Array[]) {
  return datas.map((data, i) => createLegacyTx({ nonce: BigInt(i), gasLimit: 1_000_000n, gasPrice: 1n, data }, { common }))
}

describe('orderedTrieRoot', () => {
  it('is the empty trie root for no items', () => {
    expect(bytesToHex(orderedTrieRoot([]))).toBe(bytesToHex(KECCAK256_RLP))
  })

  it.each([1, 2, 3, 16, 17, 127, 128, 129, 255, 256, 300])('matches @ethereumjs/mpt for %i transactions', async (n) => {
    // Tiny payloads make short leaves (embedded nodes), larger ones hashed nodes.
    const txs = txsFrom(Array.from({ length: n }, (_, i) => new Uint8Array(i % 7 === 0 ? 40 : i % 3).fill(i & 0xff)))
    const expected = await genTransactionsTrieRoot(txs)
    expect(bytesToHex(orderedTrieRoot(txs.map((t) => t.serialize())))).toBe(bytesToHex(expected))
  })

  it('matches @ethereumjs/mpt for arbitrary transaction lists (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 40 }), async (datas) => {
        const txs = txsFrom(datas)
        const expected = await genTransactionsTrieRoot(txs)
        expect(bytesToHex(orderedTrieRoot(txs.map((t) => t.serialize())))).toBe(bytesToHex(expected))
      }),
      { numRuns: 60 },
    )
  })

  it('matches @ethereumjs/mpt for withdrawals', async () => {
    const ws = Array.from({ length: 20 }, (_, i) =>
      createWithdrawal({ index: BigInt(i), validatorIndex: BigInt(1000 + i), address: `0x${(i + 1).toString(16).padStart(40, '0')}`, amount: BigInt(i * 1e9) }),
    )
    const expected = await genWithdrawalsTrieRoot(ws)
    expect(bytesToHex(orderedTrieRoot(ws.map((w) => RLP.encode(w.raw()))))).toBe(bytesToHex(expected))
  })
})
