import { bytesToUnprefixedHex } from '@ethereumjs/util'

import type { Chain } from '../blockchain/chain'
import type { TxLocation } from './format'

interface Entry {
  number: bigint
  blockHash: string
  index: number
}

/**
 * Transaction hash → position on the canonical chain, for
 * eth_getTransactionByHash and eth_getTransactionReceipt. Built lazily: each
 * lookup first indexes the canonical blocks added since the last one. When
 * the block last indexed is no longer canonical (the head moved to another
 * branch) the index is rebuilt from genesis; a hit is checked against the
 * canonical block at its number before it is returned. Like the chain it
 * lives in memory, about 100 bytes per transaction.
 */
export class TxIndex {
  private readonly chain: Chain
  private readonly byHash = new Map<string, Entry>()
  private indexedTo = -1n
  private tipHash = ''
  private running: Promise<void> = Promise.resolve()

  constructor(chain: Chain) {
    this.chain = chain
  }

  /** Where transaction `hash` was mined on the canonical chain, or undefined. */
  async find(hash: Uint8Array): Promise<TxLocation | undefined> {
    await this.catchUp()
    const entry = this.byHash.get(bytesToUnprefixedHex(hash))
    if (entry === undefined) return undefined
    const block = await this.chain.getBlock(entry.number)
    if (bytesToUnprefixedHex(block.hash()) !== entry.blockHash) return undefined
    return { block, index: entry.index }
  }

  /** One catch-up at a time: concurrent lookups wait for the one running. */
  private catchUp(): Promise<void> {
    const run = this.running.then(() => this.indexNewBlocks())
    this.running = run.catch(() => undefined)
    return run
  }

  private async indexNewBlocks(): Promise<void> {
    if (this.indexedTo >= 0n && !(await this.tipStillCanonical())) {
      this.byHash.clear()
      this.indexedTo = -1n
    }
    const head = this.chain.headers.height
    for (let n = this.indexedTo + 1n; n <= head; n++) {
      const block = await this.chain.getBlock(n)
      const blockHash = bytesToUnprefixedHex(block.hash())
      block.transactions.forEach((tx, index) => this.byHash.set(bytesToUnprefixedHex(tx.hash()), { number: n, blockHash, index }))
      this.indexedTo = n
      this.tipHash = blockHash
    }
  }

  private async tipStillCanonical(): Promise<boolean> {
    if (this.indexedTo > this.chain.headers.height) return false
    const block = await this.chain.getBlock(this.indexedTo)
    return bytesToUnprefixedHex(block.hash()) === this.tipHash
  }
}
