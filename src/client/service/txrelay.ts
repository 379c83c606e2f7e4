import { type TypedTransaction, isBlob4844Tx } from '@ethereumjs/tx'
import debug from 'debug'

import { sendTo } from './blockannouncer'

import type { Peer } from '../net/peer/peer'
import type { PeerPool } from '../net/peerpool'
import type { PeerKnowledge } from './knowledge'
import type { TxPool } from './txpool'

const log = debug('client:txrelay')

/** A Transactions message stops growing past this many bytes of transactions: geth's maxTxPacketSize. */
export const MAX_TX_PACKET_BYTES = 100 * 1024

/** Hashes in one NewPooledTransactionHashes: as many as a peer keeps outstanding (txAnnouncementsPerPeer's default). */
export const MAX_ANNOUNCED_HASHES = 4096

/** The size eth/68 announces for a transaction: its encoding as PooledTransactions carries it. */
export function announcedSize(tx: TypedTransaction): number {
  return isBlob4844Tx(tx) && tx.blobs !== undefined ? tx.serializeNetworkWrapper().length : tx.serialize().length
}

/**
 * Sends every transaction that enters the pool on to the peers that do not know it, as geth
 * does: the whole transaction to √n of them (n = peers without it), its hash to the rest,
 * who fetch it if they lack it. Blob transactions are only announced (EIP-4844). The peer a
 * transaction came from knows it already. Transactions added in one turn of the event loop
 * travel together, in as few messages per peer as the size limits allow.
 */
export class TxRelay {
  private readonly pool: PeerPool
  private readonly txPool: TxPool
  private readonly knowledge: PeerKnowledge
  private queued: { tx: TypedTransaction; origin?: string }[] = []
  private flushing?: ReturnType<typeof setImmediate>
  private running = false

  private readonly onAdded = (tx: TypedTransaction, origin?: string): void => {
    if (origin !== undefined) this.knowledge.markTx(origin, tx.hash())
    this.queued.push({ tx, origin })
    this.flushing ??= setImmediate(() => this.flush())
  }

  constructor(opts: { pool: PeerPool; txPool: TxPool; knowledge: PeerKnowledge }) {
    this.pool = opts.pool
    this.txPool = opts.txPool
    this.knowledge = opts.knowledge
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.txPool.on('added', this.onAdded)
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    this.txPool.off('added', this.onAdded)
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    this.queued = []
  }

  /** Sends what was queued: per peer, full transactions and announced hashes. */
  flush(): void {
    this.flushing = undefined
    const queued = this.queued
    this.queued = []
    const peers = this.pool.peers.filter((p) => p.eth !== undefined && !p.eth.closed)
    const plan = new Map<Peer, { full: TypedTransaction[]; hashes: TypedTransaction[] }>()
    for (const { tx, origin } of queued) {
      const hash = tx.hash()
      const targets = shuffled(peers.filter((p) => p.id !== origin && !this.knowledge.knowsTx(p.id, hash)))
      const direct = isBlob4844Tx(tx) ? 0 : Math.floor(Math.sqrt(targets.length))
      targets.forEach((peer, i) => {
        this.knowledge.markTx(peer.id, hash)
        let p = plan.get(peer)
        if (p === undefined) plan.set(peer, (p = { full: [], hashes: [] }))
        ;(i < direct ? p.full : p.hashes).push(tx)
      })
    }
    for (const [peer, { full, hashes }] of plan) this.sendTo(peer, full, hashes)
  }

  private sendTo(peer: Peer, full: TypedTransaction[], announce: TypedTransaction[]): void {
    const eth = peer.eth
    if (eth === undefined || eth.closed) return
    for (const txs of packets(full, MAX_TX_PACKET_BYTES, (tx) => tx.serialize().length)) sendTo(peer, () => eth.send('Transactions', { txs }))
    for (let i = 0; i < announce.length; i += MAX_ANNOUNCED_HASHES) {
      const part = announce.slice(i, i + MAX_ANNOUNCED_HASHES)
      const hashes = part.map((tx) => tx.hash())
      const msg = eth.version >= 68 ? { types: part.map((tx) => tx.type), sizes: part.map(announcedSize), hashes } : { hashes }
      sendTo(peer, () => eth.send('NewPooledTransactionHashes', msg))
    }
    log('to %s: %d transactions, %d hashes', peer.toString(), full.length, announce.length)
  }
}

/** Groups items into lists whose total size stays under `limit` (each list holds at least one item). */
function packets<T>(items: readonly T[], limit: number, size: (item: T) => number): T[][] {
  const out: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const item of items) {
    const n = size(item)
    if (current.length > 0 && bytes + n > limit) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += n
  }
  if (current.length > 0) out.push(current)
  return out
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
