import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'

import { decodeReceipt } from '../blockchain/verify'

import { InvalidParamsError, RpcServerError } from './errors'
import { effectiveGasPrice } from './format'
import { hexQuantity } from './params'

import type { Block } from '@ethereumjs/block'
import type { Chain } from '../blockchain/chain'

/** Blocks the tip suggestion looks back over (geth's gpo.blocks). */
export const GAS_PRICE_ORACLE_BLOCKS = 20
/** Percentile of the sampled tips that is suggested (geth's gpo.percentile). */
export const GAS_PRICE_ORACLE_PERCENTILE = 60
/** Lowest tips taken from each block (geth's sampleNumber). */
export const GAS_PRICE_SAMPLES_PER_BLOCK = 3
/** Tips below this are ignored as noise (geth's gpo.ignoreprice, 2 wei). */
export const GAS_PRICE_IGNORE_BELOW = 2n
/** Suggested tip while no block has a transaction to learn from: 0.001 gwei (geth's default miner tip). */
export const DEFAULT_SUGGESTED_TIP = 1_000_000n
/** The suggestion never exceeds this (geth's gpo.maxprice, 500 gwei). */
export const MAX_SUGGESTED_TIP = 500_000_000_000n
/** Most blocks one eth_feeHistory covers (geth's limit). */
export const MAX_FEE_HISTORY_BLOCKS = 1024
/** Most reward percentiles one eth_feeHistory may ask for (geth's limit). */
export const MAX_FEE_HISTORY_PERCENTILES = 100

/**
 * Fee suggestions from recent blocks, geth's oracle simplified: the suggested
 * tip is the GAS_PRICE_ORACLE_PERCENTILE-th percentile of the
 * GAS_PRICE_SAMPLES_PER_BLOCK lowest effective tips (not paid by the block's
 * own fee recipient) of each of the last GAS_PRICE_ORACLE_BLOCKS blocks; a block
 * without any contributes the previous suggestion. Unlike geth it never looks
 * further back for more samples. eth_gasPrice adds the head's base fee.
 * Suggestions are cached per head.
 */
export class FeeOracle {
  private readonly chain: Chain
  private cached = { head: '', tip: DEFAULT_SUGGESTED_TIP }

  constructor(chain: Chain) {
    this.chain = chain
  }

  async suggestTip(): Promise<bigint> {
    const head = this.chain.headers.latest
    const key = bytesToHex(head.hash())
    if (this.cached.head === key) return this.cached.tip
    const samples: bigint[] = []
    for (let n = head.number, seen = 0; n >= 0n && seen < GAS_PRICE_ORACLE_BLOCKS; n--, seen++) {
      const tips = lowestTips(await this.chain.getBlock(n))
      samples.push(...(tips.length > 0 ? tips : [this.cached.tip]))
    }
    samples.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    let tip = samples[Math.floor(((samples.length - 1) * GAS_PRICE_ORACLE_PERCENTILE) / 100)] ?? this.cached.tip
    if (tip > MAX_SUGGESTED_TIP) tip = MAX_SUGGESTED_TIP
    this.cached = { head: key, tip }
    return tip
  }

  /** Legacy gas price suggestion: the tip plus the head's base fee. */
  async gasPrice(): Promise<bigint> {
    return (await this.suggestTip()) + (this.chain.headers.latest.baseFeePerGas ?? 0n)
  }

  /**
   * eth_feeHistory as geth shapes it: `count` blocks ending at `newest`; baseFeePerGas (and,
   * from Cancun, baseFeePerBlobGas) has one entry more, the block after `newest`; reward per
   * block holds the effective tip at each requested percentile of the block's gas used.
   */
  async feeHistory(count: bigint, newest: bigint, percentiles: readonly number[]): Promise<Record<string, unknown>> {
    checkPercentiles(percentiles)
    if (newest > this.chain.headers.height) throw new RpcServerError(`request beyond head block: requested ${newest}, head ${this.chain.headers.height}`)
    const n = count > BigInt(MAX_FEE_HISTORY_BLOCKS) ? BigInt(MAX_FEE_HISTORY_BLOCKS) : count
    if (n === 0n) return { oldestBlock: hexQuantity(0), baseFeePerGas: [], gasUsedRatio: [] }
    const oldest = newest - n + 1n < 0n ? 0n : newest - n + 1n
    const baseFees: string[] = []
    const blobFees: string[] = []
    const gasUsedRatio: number[] = []
    const blobGasUsedRatio: number[] = []
    const reward: string[][] = []
    let last: Block | undefined
    for (let b = oldest; b <= newest; b++) {
      const block = await this.chain.getBlock(b)
      const h = block.header
      baseFees.push(hexQuantity(h.baseFeePerGas ?? 0n))
      gasUsedRatio.push(h.gasLimit === 0n ? 0 : Number(h.gasUsed) / Number(h.gasLimit))
      if (h.excessBlobGas !== undefined) {
        blobFees.push(hexQuantity(h.getBlobGasPrice()))
        const max = h.common.getBlobGasSchedule().maxBlobGasPerBlock
        blobGasUsedRatio.push(max === 0n ? 0 : Number(h.blobGasUsed ?? 0n) / Number(max))
      }
      if (percentiles.length > 0) reward.push(await this.rewards(block, percentiles))
      last = block
    }
    const next = last!.header
    baseFees.push(hexQuantity(next.baseFeePerGas === undefined ? 0n : next.calcNextBaseFee()))
    if (next.excessBlobGas !== undefined) blobFees.push(hexQuantity(next.calcNextBlobGasPrice(next.common)))
    const out: Record<string, unknown> = { oldestBlock: hexQuantity(oldest), baseFeePerGas: baseFees, gasUsedRatio }
    if (blobFees.length > 0) Object.assign(out, { baseFeePerBlobGas: blobFees, blobGasUsedRatio })
    if (percentiles.length > 0) out.reward = reward
    return out
  }

  private async rewards(block: Block, percentiles: readonly number[]): Promise<string[]> {
    const txs = block.transactions
    if (txs.length === 0) return percentiles.map(() => '0x0')
    const [receipts] = await this.chain.getReceipts([block.hash()])
    const baseFee = block.header.baseFeePerGas ?? 0n
    let previous = 0n
    const sorted = txs
      .map((tx, i) => {
        const cumulative = decodeReceipt(receipts![i]!).cumulativeGasUsed
        const gasUsed = cumulative - previous
        previous = cumulative
        return { tip: tipOf(tx, baseFee), gasUsed }
      })
      .sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0))
    const out: string[] = []
    let i = 0
    let sum = sorted[0]!.gasUsed
    for (const p of percentiles) {
      const threshold = BigInt(Math.floor((Number(block.header.gasUsed) * p) / 100))
      while (sum < threshold && i < sorted.length - 1) sum += sorted[++i]!.gasUsed
      out.push(hexQuantity(sorted[i]!.tip))
    }
    return out
  }
}

function tipOf(tx: TypedTransaction, baseFee: bigint): bigint {
  return effectiveGasPrice(tx, baseFee) - baseFee
}

/** The GAS_PRICE_SAMPLES_PER_BLOCK lowest effective tips of the block, not counting its fee recipient's own. */
function lowestTips(block: Block): bigint[] {
  const baseFee = block.header.baseFeePerGas ?? 0n
  const coinbase = block.header.coinbase
  return block.transactions
    .filter((tx) => !tx.getSenderAddress().equals(coinbase))
    .map((tx) => tipOf(tx, baseFee))
    .filter((tip) => tip >= GAS_PRICE_IGNORE_BELOW)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, GAS_PRICE_SAMPLES_PER_BLOCK)
}

function checkPercentiles(percentiles: readonly number[]): void {
  if (percentiles.length > MAX_FEE_HISTORY_PERCENTILES) throw new InvalidParamsError(`2: at most ${MAX_FEE_HISTORY_PERCENTILES} reward percentiles, got ${percentiles.length}`)
  let prev = -1
  for (const p of percentiles) {
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) throw new InvalidParamsError(`2: reward percentile ${String(p)} is not a number in [0, 100]`)
    if (p < prev) throw new InvalidParamsError(`2: reward percentiles must increase, ${p} follows ${prev}`)
    prev = p
  }
}
