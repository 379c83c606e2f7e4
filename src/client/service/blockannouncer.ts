import debug from 'debug'

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

/**
 * Announces the head every time it moves to each peer not known to have it, and records
 * what peers announce to us, in the shared PeerKnowledge.
 */
export class BlockAnnouncer {
  private readonly pool: PeerPool
  private readonly knowledge: PeerKnowledge

  constructor(opts: { pool: PeerPool; knowledge: PeerKnowledge }) {
    this.pool = opts.pool
    this.knowledge = opts.knowledge
  }

  /** The head is now `head`: tell every peer that does not know it. Returns how many were told. */
  announce(head: BlockRef): number {
    let told = 0
    for (const peer of this.pool.peers) {
      if (this.knowledge.knowsBlock(peer.id, head.hash)) continue
      if (this.send(peer, head)) told++
    }
    if (told > 0) log('announced #%d to %d peers', head.height, told)
    return told
  }

  /** `peer` announced these blocks: it has them. */
  noteAnnounced(peer: Peer, hashes: readonly Uint8Array[]): void {
    for (const hash of hashes) this.knowledge.markBlock(peer.id, hash)
  }

  private send(peer: Peer, head: BlockRef): boolean {
    const eth = peer.eth
    if (eth === undefined || eth.closed) return false
    this.knowledge.markBlock(peer.id, head.hash)
    switch (headAnnouncement(eth.version)) {
      case 'NewBlockHashes':
        return sendTo(peer, () => eth.send('NewBlockHashes', { hashes: [[head.hash, head.height]] }))
      case 'BlockRangeUpdate':
        // eth/69+: the range update of the eth/69 codec (issue 12) goes out here once the codec carries it.
        log('no head announcement to %s: eth/%d announces by BlockRangeUpdate', peer.toString(), eth.version)
        return false
    }
  }
}
