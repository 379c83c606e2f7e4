import type { BlockBodyBytes } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { TransactionType } from '@ethereumjs/tx'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { beforeAll, describe, expect, it } from 'vitest'

import { Common, testAccounts } from '../../../src/chain-config'
import { ChainError } from '../../../src/client/blockchain/errors'
import {
  TEST_BLOCK_TIME,
  type TestChain,
  bodyMatchesHeader,
  buildTestChain,
  decodeReceipt,
  encodeReceipt,
  receiptsMatchHeader,
  verifyBody,
  verifyReceipts,
} from '../../../src/client/testing/testchain'

const body = (b: { raw(): unknown[] }): BlockBodyBytes => b.raw().slice(1) as BlockBodyBytes
function thrown(fn: () => void): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}
const hashes = (c: TestChain): string[] => c.blocks.map((b) => bytesToHex(b.hash()))

describe('buildTestChain', () => {
  const common = Common.custom({ chainId: 1234, name: 'testnet' })
  let chain: TestChain

  beforeAll(async () => {
    chain = await buildTestChain({ common, blocks: 12, txsPerBlock: 4 })
  })

  it('is deterministic: same options, same block hashes', async () => {
    const again = await buildTestChain({ common: Common.custom({ chainId: 1234, name: 'testnet' }), blocks: 12, txsPerBlock: 4 })
    expect(hashes(again)).toEqual(hashes(chain))
    expect(again.receipts.map((r) => r.map(bytesToHex))).toEqual(chain.receipts.map((r) => r.map(bytesToHex)))
  })

  it('varies with the seed and the transaction count', async () => {
    const seeded = await buildTestChain({ common, blocks: 2, seed: 'other' })
    expect(bytesToHex(seeded.blocks[0]!.hash())).not.toBe(hashes(chain)[0])
    const fewer = await buildTestChain({ common, blocks: 2, txsPerBlock: 1 })
    expect(fewer.blocks[0]!.transactions).toHaveLength(1)
    expect(bytesToHex(fewer.blocks[0]!.hash())).not.toBe(hashes(chain)[0])
  })

  it('links blocks to the genesis with fixed timestamps and changing state', () => {
    expect(chain.blocks).toHaveLength(12)
    let parent = chain.genesis
    for (const block of chain.blocks) {
      expect(equalsBytes(block.header.parentHash, parent.hash())).toBe(true)
      expect(block.header.number).toBe(parent.header.number + 1n)
      expect(block.header.timestamp).toBe(block.header.number * TEST_BLOCK_TIME)
      expect(equalsBytes(block.header.stateRoot, parent.header.stateRoot)).toBe(false)
      parent = block
    }
    expect(chain.accounts).toBe(testAccounts)
  })

  it('fills every block with signed transactions of every envelope type', () => {
    const types = new Set<number>()
    for (const block of chain.blocks) {
      expect(block.transactions).toHaveLength(4)
      expect(block.header.gasUsed).toBeGreaterThan(0n)
      for (const tx of block.transactions) {
        expect(tx.isSigned()).toBe(true)
        expect(tx.verifySignature()).toBe(true)
        types.add(tx.type)
      }
    }
    expect([...types].sort()).toEqual([TransactionType.Legacy, TransactionType.AccessListEIP2930, TransactionType.FeeMarketEIP1559])
  })

  it('produces real receipts: logs, a reverted call, and roots that match the headers', () => {
    let logs = 0
    let failed = 0
    chain.blocks.forEach((block, i) => {
      const receipts = chain.receipts[i]!
      expect(receipts).toHaveLength(block.transactions.length)
      verifyReceipts(block.header, receipts)
      verifyBody(block.header, body(block))
      receipts.forEach((r, j) => {
        const decoded = decodeReceipt(r)
        expect(decoded.type).toBe(block.transactions[j]!.type)
        logs += decoded.logs.length
        if (decoded.status.length === 0) failed++
      })
    })
    expect(logs).toBeGreaterThan(0)
    expect(failed).toBeGreaterThan(0)
  })

  it('rejects bad counts with a typed error', async () => {
    await expect(buildTestChain({ common, blocks: -1 })).rejects.toBeInstanceOf(ChainError)
    await expect(buildTestChain({ common, blocks: 1, txsPerBlock: 10_000 })).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_ARGUMENT' })
  })

  it('handles more transactions per block than funded accounts (same sender twice in a block)', async () => {
    const big = await buildTestChain({ common, blocks: 2, txsPerBlock: 40 })
    expect(big.blocks[1]!.transactions).toHaveLength(40)
    verifyReceipts(big.blocks[1]!.header, big.receipts[1]!)
  })
})

describe('receipt encoding and verifiers', () => {
  const common = Common.custom({ chainId: 1234, name: 'testnet' })
  let chain: TestChain

  beforeAll(async () => {
    chain = await buildTestChain({ common, blocks: 3, txsPerBlock: 6 })
  })

  it('encodes legacy receipts as an RLP list and typed ones as type || RLP', () => {
    const block = chain.blocks[0]!
    block.transactions.forEach((tx, j) => {
      const r = chain.receipts[0]![j]!
      if (tx.type === TransactionType.Legacy) expect(r[0]).toBeGreaterThanOrEqual(0xc0)
      else expect(r[0]).toBe(tx.type)
      const d = decodeReceipt(r)
      const reencoded = encodeReceipt(
        { stateRoot: undefined, status: d.status.length === 0 ? 0 : 1, cumulativeBlockGasUsed: d.cumulativeGasUsed, bitvector: d.bloom, logs: d.logs } as never,
        tx.type,
      )
      expect(bytesToHex(reencoded)).toBe(bytesToHex(r))
    })
  })

  it('verifyBody notices reordered transactions, a dropped uncle list or missing withdrawals', () => {
    const block = chain.blocks[1]!
    const [txs, uncles, withdrawals] = body(block)
    expect(bodyMatchesHeader(block.header, [txs, uncles, withdrawals])).toBe(true)
    const swapped = [...(txs as Uint8Array[])].reverse()
    expect(() => verifyBody(block.header, [swapped, uncles, withdrawals])).toThrow(/transactions root/)
    expect(() => verifyBody(block.header, [txs, [[new Uint8Array(1)]], withdrawals])).toThrow(/uncle hash/)
    expect(() => verifyBody(block.header, [txs, uncles])).toThrow(/withdrawals missing/)
    expect(() => verifyBody(block.header, [txs, uncles, [[new Uint8Array([1]), new Uint8Array([2]), new Uint8Array(20), new Uint8Array([3])]]])).toThrow(
      /withdrawals root/,
    )
    expect(bodyMatchesHeader(chain.blocks[2]!.header, [txs, uncles, withdrawals])).toBe(false)
    const err = thrown(() => verifyBody(block.header, [swapped, uncles, withdrawals]))
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).code).toBe('ERR_CHAIN_BODY_MISMATCH')
  })

  it('verifyReceipts notices a missing, reordered or altered receipt', () => {
    const block = chain.blocks[0]!
    const receipts = chain.receipts[0]!
    expect(receiptsMatchHeader(block.header, receipts)).toBe(true)
    expect(receiptsMatchHeader(block.header, receipts.slice(1))).toBe(false)
    expect(receiptsMatchHeader(block.header, [...receipts].reverse())).toBe(false)
    const altered = receipts.map((r) => r.slice())
    const first = altered[0]!
    first[first.length - 1] = first[first.length - 1]! ^ 1
    expect(receiptsMatchHeader(block.header, altered)).toBe(false)
    expect(() => verifyReceipts(chain.blocks[1]!.header, receipts)).toThrow(ChainError)
  })

  it('decodeReceipt rejects garbage with a typed error', () => {
    expect(() => decodeReceipt(new Uint8Array(0))).toThrow(ChainError)
    expect(() => decodeReceipt(Uint8Array.from([0x02, 0xff]))).toThrow(ChainError)
    expect(() => decodeReceipt(RLP.encode([new Uint8Array(1)]))).toThrow(/4 fields/)
  })
})
