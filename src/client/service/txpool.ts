import { EventEmitter } from 'node:events'

import { bytesToUnprefixedHex } from '@ethereumjs/util'
import debug from 'debug'

import { ServiceError } from '../errors'

import { type PoolEntry, effectiveTip, executableOrder, poolEntry, replaces, toEvict } from './txorder'

import type { BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import type { ChainUpdate } from '../blockchain/chain'
import type { AccountInfo } from '../blockchain/state'

const log = debug('client:txpool')

/**
 * Transactions one sender may have pooled (pending and future nonces together): geth keeps
 * 16 executable plus 64 queued per account; one sender must not fill a shared pool.
 */
export const MAX_TXS_PER_SENDER = 64

/** Why the pool refused a transaction; stable, for callers that branch on it. */
export type TxRejection =
  | 'invalid' // unsigned, bad signature, another chain, gas limit below intrinsic gas or above the block's
  | 'nonce-too-low' // the sender's account nonce at the head is already past it (stale)
  | 'insufficient-funds' // balance below gas limit × fee cap + value (with the sender's earlier pooled transactions)
  | 'underpriced' // a replacement without the fee bump, or the pool is full of better-paying transactions
  | 'sender-limit' // the sender already has MAX_TXS_PER_SENDER pooled

const CODES: Record<TxRejection, `ERR_SERVICE_${string}`> = {
  invalid: 'ERR_SERVICE_TX_INVALID',
  'nonce-too-low': 'ERR_SERVICE_TX_NONCE_TOO_LOW',
  'insufficient-funds': 'ERR_SERVICE_TX_INSUFFICIENT_FUNDS',
  underpriced: 'ERR_SERVICE_TX_UNDERPRICED',
  'sender-limit': 'ERR_SERVICE_TX_SENDER_LIMIT',
}

/** The pool refused a transaction. Not the relaying peer's fault: a stale or outbid transaction travels honestly. */
export class TxRejectedError extends ServiceError {
  readonly reason: TxRejection

  constructor(reason: TxRejection, message: string) {
    super(CODES[reason], message)
    this.reason = reason
  }
}

/** The chain as the pool sees it (a Chain satisfies it): the head, and accounts in its state. */
export interface TxPoolChain {
  readonly headers: { latest: BlockHeader }
  getAccount(address: Address): Promise<AccountInfo>
}

export interface TxPoolOptions {
  common: Common
  /** Transactions kept; beyond it the lowest-paying one goes (see add). */
  maxSize: number
  /**
   * The chain whose head state the pool validates against. Without it only what needs no
   * state is checked (signature, chain id, intrinsic gas): a pool for tests of the wire.
   */
  chain?: TxPoolChain
}

export interface TxPoolEvents {
  /** A transaction entered the pool; `origin` is the id of the peer it came from, if any. */
  added: [tx: TypedTransaction, origin?: string]
}

/**
 * The pending transactions of the node: validated on entry against the head's state, ordered
 * by nonce per sender, served to peers by hash, handed to the block producer in
 * price-and-nonce order, pruned as the head moves, and bounded: when full, the lowest-paying
 * transaction (the last nonce of its sender, so no sender is left with a gap) makes room for
 * a better one.
 */
export class TxPool extends EventEmitter<TxPoolEvents> {
  private readonly common: Common
  private readonly maxSize: number
  private readonly chain?: TxPoolChain
  private readonly byHash = new Map<string, PoolEntry>()
  private readonly bySender = new Map<string, Map<bigint, PoolEntry>>()
  private sequence = 0
  private heads: Promise<void> = Promise.resolve()

  constructor(opts: TxPoolOptions) {
    super()
    this.common = opts.common
    this.maxSize = opts.maxSize
    this.chain = opts.chain
  }

  get size(): number {
    return this.byHash.size
  }

  has(hash: Uint8Array): boolean {
    return this.byHash.has(bytesToUnprefixedHex(hash))
  }

  /** Every pooled transaction, oldest first. */
  all(): TypedTransaction[] {
    return [...this.byHash.values()].map((e) => e.tx)
  }

  /**
   * Validates and adds a signed transaction; resolves false if it was already pooled. Rejects
   * with TxRejectedError (reason and detail) for one the pool does not take. `origin` is the
   * peer it came from, passed on with the `added` event so it is not sent back there.
   */
  async add(tx: TypedTransaction, origin?: string): Promise<boolean> {
    this.checkStateless(tx)
    const key = bytesToUnprefixedHex(tx.hash())
    if (this.byHash.has(key)) return false
    const entry = poolEntry(tx, key, this.sequence++)
    const account = this.chain === undefined ? undefined : await this.chain.getAccount(tx.getSenderAddress())
    // The pool may have changed during the read: everything below is one synchronous step.
    if (this.byHash.has(key)) return false
    const own = this.bySender.get(entry.sender)
    const replaced = own?.get(entry.nonce)
    if (account !== undefined) this.checkAccount(entry, account, own, replaced)
    if (replaced !== undefined && !replaces(entry, replaced)) {
      throw new TxRejectedError('underpriced', `replacement of nonce ${entry.nonce} needs a 10 % higher fee cap and tip`)
    }
    if (replaced === undefined && (own?.size ?? 0) >= MAX_TXS_PER_SENDER) {
      throw new TxRejectedError('sender-limit', `sender ${entry.sender} already has ${MAX_TXS_PER_SENDER} pooled transactions`)
    }
    if (replaced !== undefined) this.delete(replaced)
    else this.makeRoom(entry)
    this.insert(entry)
    this.emit('added', tx, origin)
    return true
  }

  /** The pooled transactions among `hashes`, in request order; unknown hashes are skipped as the eth protocol specifies. */
  getByHash(hashes: Uint8Array[]): TypedTransaction[] {
    const out: TypedTransaction[] = []
    for (const hash of hashes) {
      const entry = this.byHash.get(bytesToUnprefixedHex(hash))
      if (entry !== undefined) out.push(entry.tx)
    }
    return out
  }

  /** Drops transactions by hash (e.g. included in a block). */
  removeByHash(hashes: Uint8Array[]): void {
    for (const hash of hashes) {
      const entry = this.byHash.get(bytesToUnprefixedHex(hash))
      if (entry !== undefined) this.delete(entry)
    }
  }

  /**
   * The transactions a block built on the head can include, best first: each sender's run of
   * consecutive nonces from its account nonce, senders interleaved by what they pay at the
   * next block's base fee (see executableOrder).
   */
  async pending(): Promise<TypedTransaction[]> {
    const baseFee = this.nextBaseFee()
    const runs: PoolEntry[][] = []
    for (const own of this.bySender.values()) {
      const first = own.values().next().value as PoolEntry
      let nonce = this.chain === undefined ? minNonce(own) : (await this.chain.getAccount(first.tx.getSenderAddress())).nonce
      const run: PoolEntry[] = []
      for (let e = own.get(nonce); e !== undefined; e = own.get(++nonce)) run.push(e)
      if (run.length > 0) runs.push(run)
    }
    return executableOrder(runs, baseFee).map((e) => e.tx)
  }

  /**
   * Follows the head: transactions of blocks that left the canonical chain come back (those
   * still valid), those of the new blocks go, and every sender's transactions are checked
   * against its account at the new head (stale nonces and unaffordable ones dropped).
   * Updates run one after another, in head order.
   */
  onHead(update: Pick<ChainUpdate, 'added' | 'removed'>): Promise<void> {
    const run = this.heads.then(() => this.applyHead(update))
    this.heads = run.catch((err: unknown) => log('head update failed: %s', (err as Error).message))
    return this.heads
  }

  clear(): void {
    this.byHash.clear()
    this.bySender.clear()
  }

  private async applyHead(update: Pick<ChainUpdate, 'added' | 'removed'>): Promise<void> {
    const included = new Set<string>()
    for (const block of update.added) for (const tx of block.transactions) included.add(bytesToUnprefixedHex(tx.hash()))
    this.removeByHash([...included].map(hexKeyBytes))
    if (this.chain !== undefined) await this.revalidate(this.chain)
    for (const block of update.removed) {
      for (const tx of block.transactions) {
        if (included.has(bytesToUnprefixedHex(tx.hash()))) continue
        await this.add(tx).catch((err: unknown) => log('reorged-out %s not re-pooled: %s', bytesToUnprefixedHex(tx.hash()), (err as Error).message))
      }
    }
  }

  private async revalidate(chain: TxPoolChain): Promise<void> {
    let dropped = 0
    for (const [sender, own] of [...this.bySender]) {
      const first = own.values().next().value as PoolEntry
      const account = await chain.getAccount(first.tx.getSenderAddress())
      let spent = 0n
      for (const entry of [...own.values()].sort((a, b) => (a.nonce < b.nonce ? -1 : 1))) {
        spent += entry.cost
        if (entry.nonce >= account.nonce && spent <= account.balance) continue
        this.delete(entry)
        dropped++
      }
      if (own.size === 0) this.bySender.delete(sender)
    }
    if (dropped > 0) log('dropped %d transactions no longer valid at the head', dropped)
  }

  private checkStateless(tx: TypedTransaction): void {
    if (!tx.isSigned() || !tx.verifySignature()) {
      throw new TxRejectedError('invalid', 'transaction is unsigned or its signature does not verify')
    }
    const chainId = this.common.chainId()
    if (tx.common.chainId() !== chainId) {
      throw new TxRejectedError('invalid', `transaction is for chain ${tx.common.chainId()}, not ${chainId}`)
    }
    const intrinsic = tx.getIntrinsicGas()
    if (tx.gasLimit < intrinsic) throw new TxRejectedError('invalid', `gas limit ${tx.gasLimit} is below the intrinsic gas ${intrinsic}`)
    const blockGas = this.chain?.headers.latest.gasLimit
    if (blockGas !== undefined && tx.gasLimit > blockGas) throw new TxRejectedError('invalid', `gas limit ${tx.gasLimit} exceeds the block gas limit ${blockGas}`)
  }

  private checkAccount(entry: PoolEntry, account: AccountInfo, own: Map<bigint, PoolEntry> | undefined, replaced: PoolEntry | undefined): void {
    if (entry.nonce < account.nonce) {
      throw new TxRejectedError('nonce-too-low', `nonce ${entry.nonce} is below the sender's account nonce ${account.nonce}`)
    }
    let spent = entry.cost
    for (const other of own?.values() ?? []) if (other.nonce < entry.nonce && other !== replaced) spent += other.cost
    if (spent > account.balance) {
      throw new TxRejectedError('insufficient-funds', `sender balance ${account.balance} is below ${spent} (gas × fee cap + value of this and its earlier pooled transactions)`)
    }
  }

  /** Evicts the lowest-paying transaction when full, or refuses `entry` if it pays no more than that one. */
  private makeRoom(entry: PoolEntry): void {
    if (this.byHash.size < this.maxSize) return
    const victim = toEvict(this.bySender.values(), this.nextBaseFee())
    if (victim === undefined) return
    // Equal pay makes room (the older one goes); the sender's own earlier nonce is never evicted for a later one.
    if (effectiveTip(entry, this.nextBaseFee()) < effectiveTip(victim, this.nextBaseFee()) || (victim.sender === entry.sender && victim.nonce < entry.nonce)) {
      throw new TxRejectedError('underpriced', `pool is full (${this.maxSize}) of transactions paying at least as much`)
    }
    this.delete(victim)
    log('evicted %s (pool full at %d)', victim.hash, this.maxSize)
  }

  private insert(entry: PoolEntry): void {
    this.byHash.set(entry.hash, entry)
    let own = this.bySender.get(entry.sender)
    if (own === undefined) this.bySender.set(entry.sender, (own = new Map()))
    own.set(entry.nonce, entry)
  }

  private delete(entry: PoolEntry): void {
    this.byHash.delete(entry.hash)
    const own = this.bySender.get(entry.sender)
    own?.delete(entry.nonce)
    if (own?.size === 0) this.bySender.delete(entry.sender)
  }

  private nextBaseFee(): bigint {
    const head = this.chain?.headers.latest
    return head !== undefined && head.common.isActivatedEIP(1559) ? head.calcNextBaseFee() : 0n
  }
}

function minNonce(own: Map<bigint, PoolEntry>): bigint {
  let min: bigint | undefined
  for (const n of own.keys()) if (min === undefined || n < min) min = n
  return min ?? 0n
}

function hexKeyBytes(key: string): Uint8Array {
  return Uint8Array.from(Buffer.from(key, 'hex'))
}
