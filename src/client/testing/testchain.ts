import type { Block } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TransactionType } from '@ethereumjs/tx'
import { type TxReceipt, encodeReceipt as vmEncodeReceipt } from '@ethereumjs/vm'

import { type TestAccount, testAccounts } from '../../chain-config'
import { ChainError } from '../blockchain/errors'
import { BlockProducer } from './producer'
import { TX_KINDS, makeTestTx } from './transactions'

export { BlockProducer, TEST_BLOCK_TIME, TEST_COINBASE } from './producer'
export { TX_KINDS, type TxKind, makeTestTx } from './transactions'
export { bodyMatchesHeader, decodeReceipt, receiptsMatchHeader, verifyBody, verifyReceipts } from '../blockchain/verify'
export { orderedTrieRoot } from '../blockchain/ordered-trie'

/** Default transactions per test block: enough to cycle through most TX_KINDS in two blocks. */
export const DEFAULT_TXS_PER_BLOCK = 4

/**
 * Upper bound on `txsPerBlock`: each test transaction needs at most CONTRACT_CALL_GAS (60k),
 * so 400 of them stay inside the 30M genesis gas limit with room to spare.
 */
export const MAX_TXS_PER_BLOCK = 400

export interface TestChainOptions {
  /** A chain made by `Common.custom` (the genesis and funded accounts come from chain-config). */
  common: Common
  /** Number of blocks after genesis. */
  blocks: number
  txsPerBlock?: number
  /** Varies recipients, values and calldata; same seed => same chain. Default '0'. */
  seed?: string | number
}

export interface TestChain {
  genesis: Block
  /** Blocks 1..N, in order. */
  blocks: Block[]
  /** Consensus-encoded receipts of each block, aligned with `blocks`. */
  receipts: Uint8Array[][]
  /** The funded accounts whose keys signed the transactions. */
  accounts: readonly TestAccount[]
}

/**
 * Builds a deterministic chain of `blocks` blocks over `common`'s genesis. Every block carries
 * `txsPerBlock` real signed transactions (mixed kinds, senders round-robin over the funded
 * accounts) executed by the VM, so state, transaction and receipt roots, blooms and receipts
 * are the real ones. Same options => same block hashes.
 */
export async function buildTestChain(opts: TestChainOptions): Promise<TestChain> {
  const txsPerBlock = opts.txsPerBlock ?? DEFAULT_TXS_PER_BLOCK
  checkCount('blocks', opts.blocks, Number.MAX_SAFE_INTEGER)
  checkCount('txsPerBlock', txsPerBlock, MAX_TXS_PER_BLOCK)
  const seed = String(opts.seed ?? 0)
  const producer = await BlockProducer.create(opts.common)
  const blocks: Block[] = []
  const receipts: Uint8Array[][] = []
  let index = 0
  for (let b = 0; b < opts.blocks; b++) {
    const txs = []
    for (let t = 0; t < txsPerBlock; t++, index++) {
      const from = testAccounts[index % testAccounts.length]!
      const kind = TX_KINDS[index % TX_KINDS.length]!
      txs.push(makeTestTx(opts.common, { kind, from, nonce: producer.takeNonce(from.address.toString()), seed, index }))
    }
    const produced = await producer.produce(txs)
    blocks.push(produced.block)
    receipts.push(produced.receipts)
  }
  return { genesis: producer.genesis, blocks, receipts, accounts: testAccounts }
}

/**
 * Encodes a receipt in consensus form: the RLP list [status, cumulativeGas, bloom, logs] for
 * a legacy transaction, `type || RLP(list)` for a typed one (EIP-2718). This is what
 * GetReceipts serves and what the receipts root commits to.
 */
export function encodeReceipt(receipt: TxReceipt, txType: TransactionType): Uint8Array {
  return vmEncodeReceipt(receipt, txType)
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `${name} must be an integer in [0, ${max}], got ${value}`)
  }
}

export interface ForkOptions {
  common: Common
  /** Blocks both chains share. */
  shared: number
  /** Blocks of each branch above the shared ones. */
  branches: readonly number[]
  txsPerBlock?: number
}

export interface ForkedChains {
  genesis: Block
  shared: Block[]
  sharedReceipts: Uint8Array[][]
  /** One per entry of `branches`: its blocks above the shared ones, and their receipts. */
  branches: { blocks: Block[]; receipts: Uint8Array[][] }[]
}

/**
 * Chains that share `shared` blocks and then fork: each branch is built by its own producer
 * from the same shared blocks (same transactions, same timestamps, hence the same hashes) and
 * continues with transactions of its own seed, so the branches differ from their first block
 * (given txsPerBlock > 0: empty blocks are the same on every branch).
 */
export async function buildForkedChains(opts: ForkOptions): Promise<ForkedChains> {
  const txsPerBlock = opts.txsPerBlock ?? DEFAULT_TXS_PER_BLOCK
  const out: ForkedChains = { genesis: undefined as unknown as Block, shared: [], sharedReceipts: [], branches: [] }
  for (const [branch, length] of opts.branches.entries()) {
    const producer = await BlockProducer.create(opts.common)
    out.genesis = producer.genesis
    let index = 0
    const next = async (seed: string): Promise<{ block: Block; receipts: Uint8Array[] }> => {
      const txs = []
      for (let t = 0; t < txsPerBlock; t++, index++) {
        const from = testAccounts[index % testAccounts.length]!
        txs.push(makeTestTx(opts.common, { kind: TX_KINDS[index % TX_KINDS.length]!, from, nonce: producer.takeNonce(from.address.toString()), seed, index }))
      }
      return producer.produce(txs)
    }
    const shared: { block: Block; receipts: Uint8Array[] }[] = []
    for (let b = 0; b < opts.shared; b++) shared.push(await next('shared'))
    if (branch === 0) {
      out.shared = shared.map((s) => s.block)
      out.sharedReceipts = shared.map((s) => s.receipts)
    }
    const own = { blocks: [] as Block[], receipts: [] as Uint8Array[][] }
    for (let b = 0; b < length; b++) {
      const p = await next(`branch-${branch}`)
      own.blocks.push(p.block)
      own.receipts.push(p.receipts)
    }
    out.branches.push(own)
  }
  return out
}
