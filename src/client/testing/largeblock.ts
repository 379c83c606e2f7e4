import type { Block } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { type TypedTransaction, createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx'
import { type PrefixedHexString, bytesToHex } from '@ethereumjs/util'

import { Common as ChainCommon, DEFAULT_GENESIS_GAS_LIMIT, LOG_CONTRACT_ADDRESS, testAccounts } from '../../chain-config'
import { ChainError } from '../blockchain/errors'
import { BlockProducer } from './producer'
import { TEST_MAX_FEE, TEST_PRIORITY_FEE, derivedBytes } from './transactions'

/**
 * Calldata per transaction of a large block (512 KiB): bodies of several MiB then hold
 * many transactions, as real large blocks do, and no single one dominates.
 */
export const LARGE_TX_DATA_BYTES = 512 * 1024

/**
 * Log data per transaction of a block of large logs (128 KiB): a LOG's memory cost grows
 * with the square of its size, so several moderate logs cost far less gas than one huge one.
 */
export const LARGE_LOG_DATA_BYTES = 128 * 1024

/** Largest body buildLargeBlock makes (64 MiB): beyond any eth message cap, to test refusals. */
export const MAX_LARGE_BLOCK_BYTES = 64 * 1024 * 1024

/** Chain id of the dedicated large-block chain when the caller brings no Common. */
export const LARGE_BLOCK_CHAIN_ID = 4321

// Calldata pricing on Prague: EIP-2028 (4 gas per zero byte, 16 per non-zero byte) and the
// EIP-7623 floor (10 gas per token; a zero byte is 1 token, a non-zero byte 4).
const TX_BASE_GAS = 21_000n
const ZERO_BYTE_GAS = 4n
const NONZERO_BYTE_GAS = 16n
const FLOOR_GAS_PER_TOKEN = 10n

/** Gas a plain transfer carrying `data` uses on Prague (the larger of standard cost and floor). */
export function calldataTransferGas(data: Uint8Array): bigint {
  let nonzero = 0n
  for (const b of data) if (b !== 0) nonzero++
  const zero = BigInt(data.length) - nonzero
  const standard = TX_BASE_GAS + zero * ZERO_BYTE_GAS + nonzero * NONZERO_BYTE_GAS
  const floor = TX_BASE_GAS + (zero + 4n * nonzero) * FLOOR_GAS_PER_TOKEN
  return standard > floor ? standard : floor
}

// The log contract's execution (see chain-config/genesis.ts): LOG1 of the calldata.
const LOG_GAS = 375n
const LOG_TOPIC_GAS = 375n
const LOG_DATA_GAS = 8n
const COPY_GAS_PER_WORD = 3n
const MEMORY_GAS_PER_WORD = 3n
const MEMORY_QUAD_DIVISOR = 512n
/** The contract's other opcodes (pushes, CALLVALUE, JUMPI, ...), rounded up generously. */
const LOG_CONTRACT_OVERHEAD_GAS = 1_000n

/** Gas limit of a call that makes the log contract emit `data` as one LOG1 (intrinsic + execution, or the EIP-7623 floor). */
export function logCallGas(data: Uint8Array): bigint {
  const words = BigInt(Math.ceil(data.length / 32))
  const execution =
    LOG_GAS + LOG_TOPIC_GAS + LOG_DATA_GAS * BigInt(data.length) + COPY_GAS_PER_WORD * words +
    MEMORY_GAS_PER_WORD * words + (words * words) / MEMORY_QUAD_DIVISOR + LOG_CONTRACT_OVERHEAD_GAS
  let nonzero = 0n
  for (const b of data) if (b !== 0) nonzero++
  const zero = BigInt(data.length) - nonzero
  const standard = TX_BASE_GAS + zero * ZERO_BYTE_GAS + nonzero * NONZERO_BYTE_GAS + execution
  const floor = TX_BASE_GAS + (zero + 4n * nonzero) * FLOOR_GAS_PER_TOKEN
  return standard > floor ? standard : floor
}

/**
 * A genesis gas limit large enough for one block whose receipts carry `targetBytes` of log
 * data: at most 19 gas per byte with this builder's log data (the calldata floor, 10 per byte,
 * plus 8 per logged byte and the copy and memory costs), on top of the default.
 */
export function largeLogBlockGasLimit(targetBytes: number): bigint {
  return largeBlockGasLimit(targetBytes) + 7n * BigInt(targetBytes) + 50_000n * BigInt(Math.ceil(targetBytes / LARGE_LOG_DATA_BYTES) + 1)
}

/**
 * A genesis gas limit large enough for `count` blocks of `targetBytes` calldata each (at most
 * 12 gas per byte with this builder's calldata, plus 21k per transaction), on top of the default.
 */
export function largeBlockGasLimit(targetBytes: number): bigint {
  const txs = BigInt(Math.ceil(targetBytes / LARGE_TX_DATA_BYTES) + 1)
  return DEFAULT_GENESIS_GAS_LIMIT + 12n * BigInt(targetBytes) + TX_BASE_GAS * txs
}

export interface LargeBlockOptions {
  /**
   * Minimum RLP size of each block's body (transactions, uncles, withdrawals), in bytes;
   * with `payload: 'logs'`, the minimum log data of each block's receipts.
   */
  targetBytes: number
  /**
   * What makes the block large: calldata of value transfers (large bodies, small receipts;
   * the default), or calls of the log contract that log their calldata (large receipts too).
   */
  payload?: 'calldata' | 'logs'
  /** How many such blocks to build in a row (default 1). */
  count?: number
  /** Chain to build on; its genesis gas limit must be >= largeBlockGasLimit(targetBytes). Default: a dedicated chain. */
  common?: Common
  seed?: string | number
}

export interface LargeBlocks {
  common: Common
  genesis: Block
  blocks: Block[]
  receipts: Uint8Array[][]
  /** RLP size of each block's body, aligned with `blocks`. */
  bodySizes: number[]
}

/**
 * Builds blocks whose bodies are at least `targetBytes` long, from value transfers (legacy and
 * EIP-1559, alternating) carrying large calldata, executed by the VM like any test block; with
 * `payload: 'logs'` the transactions call the log contract instead, so each block's receipts
 * carry at least `targetBytes` of log data as well.
 * The calldata is mostly zero (cheap in gas) with a distinct counter every 64 bytes, so a
 * reordered or lost chunk changes the transactions root.
 */
export async function buildLargeBlock(opts: LargeBlockOptions): Promise<LargeBlocks> {
  const { targetBytes } = opts
  const count = opts.count ?? 1
  if (!Number.isSafeInteger(targetBytes) || targetBytes < 1 || targetBytes > MAX_LARGE_BLOCK_BYTES) {
    throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `targetBytes must be an integer in [1, ${MAX_LARGE_BLOCK_BYTES}], got ${targetBytes}`)
  }
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `count must be a positive integer, got ${count}`)
  }
  const logs = opts.payload === 'logs'
  const needed = logs ? largeLogBlockGasLimit(targetBytes) : largeBlockGasLimit(targetBytes)
  const common = opts.common ?? ChainCommon.custom({ chainId: LARGE_BLOCK_CHAIN_ID, name: 'large-blocks', gasLimit: needed })
  const gasLimit = BigInt(common.genesis().gasLimit)
  if (gasLimit < needed) {
    throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `genesis gas limit ${gasLimit} < ${needed} needed for ${targetBytes}-byte ${logs ? 'logs' : 'bodies'}`)
  }
  const seed = String(opts.seed ?? 0)
  const producer = await BlockProducer.create(common)
  const out: LargeBlocks = { common, genesis: producer.genesis, blocks: [], receipts: [], bodySizes: [] }
  let txIndex = 0
  for (let b = 0; b < count; b++) {
    const txs: TypedTransaction[] = []
    const chunk = logs ? LARGE_LOG_DATA_BYTES : LARGE_TX_DATA_BYTES
    for (let remaining = targetBytes; remaining > 0; txIndex++) {
      const size = Math.min(remaining, chunk)
      txs.push(largeTx(common, producer, txIndex, size, seed, logs))
      remaining -= size
    }
    const { block, receipts } = await producer.produce(txs)
    out.blocks.push(block)
    out.receipts.push(receipts)
    out.bodySizes.push(RLP.encode(block.raw().slice(1) as Uint8Array[][]).length)
  }
  return out
}

/** A transfer carrying `size` bytes of calldata, or (`log`) a call of the log contract that logs them. */
function largeTx(common: Common, producer: BlockProducer, index: number, size: number, seed: string, log: boolean): TypedTransaction {
  const from = testAccounts[index % testAccounts.length]!
  const data = largeCalldata(index, size)
  const base = {
    nonce: producer.takeNonce(from.address.toString()),
    to: log ? LOG_CONTRACT_ADDRESS : (bytesToHex(derivedBytes(seed, index, 'large-to').subarray(12)) as PrefixedHexString),
    // Any value sent to the log contract makes it revert.
    value: log ? 0n : 1n,
    data,
    gasLimit: log ? logCallGas(data) : calldataTransferGas(data),
  }
  const tx =
    index % 2 === 0
      ? createLegacyTx({ ...base, gasPrice: TEST_MAX_FEE }, { common })
      : createFeeMarket1559Tx({ ...base, maxFeePerGas: TEST_MAX_FEE, maxPriorityFeePerGas: TEST_PRIORITY_FEE }, { common })
  // Signing is deterministic (RFC 6979, no extra entropy): same options => same block.
  return tx.sign(from.privateKey, false)
}

function largeCalldata(txIndex: number, size: number): Uint8Array {
  const data = new Uint8Array(size)
  const view = new DataView(data.buffer)
  for (let chunk = 0; (chunk + 1) * 64 <= size; chunk++) {
    view.setUint32(chunk * 64 + 60, (txIndex * 0x10000 + chunk + 1) >>> 0)
  }
  return data
}
