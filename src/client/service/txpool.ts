import { EventEmitter } from 'node:events'

import { bytesToUnprefixedHex } from '@ethereumjs/util'
import debug from 'debug'

import { ServiceError } from '../errors'

import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'

const log = debug('client:txpool')

export interface TxPoolOptions {
  common: Common
  /** Transactions kept; the oldest is evicted beyond this. */
  maxSize: number
}

/**
 * In-memory pool of pending transactions, keyed by hash, oldest first.
 * Holds what peers gossip and what the node submits, so GetPooledTransactions
 * can be answered; it does not execute or order transactions by price.
 */
export interface TxPoolEvents {
  /** A transaction entered the pool. */
  added: [tx: TypedTransaction]
}

export class TxPool extends EventEmitter<TxPoolEvents> {
  private readonly common: Common
  private readonly maxSize: number
  /** Insertion order is eviction order (Map iterates in insertion order). */
  private readonly txs = new Map<string, TypedTransaction>()

  constructor(opts: TxPoolOptions) {
    super()
    this.common = opts.common
    this.maxSize = opts.maxSize
  }

  get size(): number {
    return this.txs.size
  }

  has(hash: Uint8Array): boolean {
    return this.txs.has(bytesToUnprefixedHex(hash))
  }

  /**
   * Adds a signed transaction for this chain; returns false if it was already
   * pooled. Throws ServiceError for a transaction that must not be relayed.
   */
  add(tx: TypedTransaction): boolean {
    if (!tx.isSigned() || !tx.verifySignature()) {
      throw new ServiceError('ERR_SERVICE_TX_INVALID', 'transaction is unsigned or its signature does not verify')
    }
    const chainId = this.common.chainId()
    if (tx.common.chainId() !== chainId) {
      throw new ServiceError('ERR_SERVICE_TX_INVALID', `transaction is for chain ${tx.common.chainId()}, not ${chainId}`)
    }
    const key = bytesToUnprefixedHex(tx.hash())
    if (this.txs.has(key)) return false
    this.txs.set(key, tx)
    while (this.txs.size > this.maxSize) {
      const oldest = this.txs.keys().next().value as string
      this.txs.delete(oldest)
      log('evicted %s (pool full at %d)', oldest, this.maxSize)
    }
    this.emit('added', tx)
    return true
  }

  /** The pooled transactions among `hashes`, in request order; unknown hashes are skipped as the eth protocol specifies. */
  getByHash(hashes: Uint8Array[]): TypedTransaction[] {
    const out: TypedTransaction[] = []
    for (const hash of hashes) {
      const tx = this.txs.get(bytesToUnprefixedHex(hash))
      if (tx !== undefined) out.push(tx)
    }
    return out
  }

  /** Drops transactions now included in a block. */
  removeByHash(hashes: Uint8Array[]): void {
    for (const hash of hashes) this.txs.delete(bytesToUnprefixedHex(hash))
  }

  clear(): void {
    this.txs.clear()
  }
}
