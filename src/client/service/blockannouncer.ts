import { bytesToHex } from '@ethereumjs/util'
import debug from 'debug'

import { servedBlockRange } from '../net/protocol/protocol'

import type { Chain } from '../blockchain/chain'
import type { Peer } from '../net/peer/peer'
import type { PeerPool } from '../net/peerpool'
import type { BlockRef } from '../types'
import type { PeerKnowledge } from './knowledge'

const log = debug('client:announce')

/**
 * Sends one announcement or relay message; false when the session ended under it (the
 * server reports that end as PEER_DISCONNECTED): such a message is not worth more than the
 * log line, and a failure must not reach whoever moved the head or pooled the transaction.
 */
export function sendTo(peer: Peer, send: () => void): boolean {
  try {
    send()
    return true
  } catch (err) {
    log('nothing sent to %s: %s', peer.toString(), (err as Error).message)
    return false
  }
}

/** How a head is announced to a peer, by its eth version. */
export type HeadAnnouncement = 'NewBlockHashes' | 'BlockRangeUpdate'

/**
 * The one per-version choice of how heads travel: NewBlockHashes up to eth/68; from eth/69
 * on that message is gone and a node announces its served range instead (BlockRangeUpdate).
 */
export function headAnnouncement(version: number): HeadAnnouncement {
  return version >= 69 ? 'BlockRangeUpdate' : 'NewBlockHashes'
}

export interface BlockAnnouncerOptions {
  pool: PeerPool
  knowledge: PeerKnowledge
  /** The chain whose served range eth/69+ peers are told. */
  chain: Chain
  /** Least time between two BlockRangeUpdates to the peers (config.blockRangeUpdateIntervalMs). */
  rangeIntervalMs: number
}

/**
 * Announces the head every time it moves to each peer not known to have it, and records
 * what peers announce to us, in the shared PeerKnowledge.
 *
 * Up to eth/68 a head is a NewBlockHashes at once. From eth/69 on it is a BlockRangeUpdate,
 * sent at most once per `rangeIntervalMs`: a head that moves sooner is announced when the
 * interval ends, with the range as it is then. So a node that imports hundreds of blocks a
 * second while syncing sends one update a second, well inside what a receiver accepts
 * (maxBlockRangeUpdatesPerMinute), while a node following the chain tells its peers of every
 * block produced more slowly than that. (geth sends one only every 32 blocks, because on
 * mainnet the consensus client spreads heads; a network of these nodes has no such client,
 * so its heads travel here.)
 */
export class BlockAnnouncer {
  private readonly pool: PeerPool
  private readonly knowledge: PeerKnowledge
  private readonly chain: Chain
  private readonly rangeIntervalMs: number
  private lastRangeAt = Number.NEGATIVE_INFINITY
  private rangeTimer: NodeJS.Timeout | undefined
  /**
   * The latest block of the range each peer was told last. A range is what we serve, not a
   * block we relay: a peer that has our head (it may have sent it to us) still learns from it
   * which blocks it can ask us for, so block knowledge does not hold it back; only the same
   * range twice does.
   */
  private readonly toldRange = new WeakMap<Peer, string>()

  constructor(opts: BlockAnnouncerOptions) {
    this.pool = opts.pool
    this.knowledge = opts.knowledge
    this.chain = opts.chain
    this.rangeIntervalMs = opts.rangeIntervalMs
  }

  /**
   * The head is now `head`: tell every peer that does not know it (eth/69+ peers: every
   * peer not yet told our current range). Returns how many were told now.
   */
  announce(head: BlockRef): number {
    let told = 0
    let rangeDue = false
    for (const peer of this.pool.peers) {
      const eth = peer.eth
      if (eth === undefined || eth.closed) continue
      if (headAnnouncement(eth.version) === 'BlockRangeUpdate') {
        rangeDue = true
        continue
      }
      if (this.knowledge.knowsBlock(peer.id, head.hash)) continue
      this.knowledge.markBlock(peer.id, head.hash)
      if (sendTo(peer, () => eth.send('NewBlockHashes', { hashes: [[head.hash, head.height]] }))) told++
    }
    if (rangeDue) told += this.scheduleRange()
    if (told > 0) log('announced #%d to %d peers', head.height, told)
    return told
  }

  /** `peer` announced these blocks: it has them. */
  noteAnnounced(peer: Peer, hashes: readonly Uint8Array[]): void {
    for (const hash of hashes) this.knowledge.markBlock(peer.id, hash)
  }

  /** Cancels a BlockRangeUpdate waiting for its interval. */
  stop(): void {
    clearTimeout(this.rangeTimer)
    this.rangeTimer = undefined
    this.lastRangeAt = Number.NEGATIVE_INFINITY
  }

  /** Sends the range now if the interval allows (returns the peers told), else once it ends. */
  private scheduleRange(): number {
    if (this.rangeTimer !== undefined) return 0
    const wait = this.lastRangeAt + this.rangeIntervalMs - Date.now()
    if (wait <= 0) return this.sendRange()
    this.rangeTimer = setTimeout(() => {
      this.rangeTimer = undefined
      this.sendRange()
    }, wait)
    return 0
  }

  private sendRange(): number {
    const range = servedBlockRange(this.chain)
    const latest = bytesToHex(range.latestBlockHash)
    let told = 0
    for (const peer of this.pool.peers) {
      const eth = peer.eth
      if (eth === undefined || eth.closed || headAnnouncement(eth.version) !== 'BlockRangeUpdate') continue
      if (this.toldRange.get(peer) === latest) continue
      this.toldRange.set(peer, latest)
      this.knowledge.markBlock(peer.id, range.latestBlockHash)
      if (sendTo(peer, () => eth.send('BlockRangeUpdate', range))) told++
    }
    if (told > 0) {
      this.lastRangeAt = Date.now()
      log('BlockRangeUpdate %d..%d to %d peers', range.earliestBlock, range.latestBlock, told)
    }
    return told
  }
}
