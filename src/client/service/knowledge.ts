import { LruMap } from '../../p2p/util/lru'

/**
 * What each peer is known to have, so nothing is sent to a peer twice: block hashes it
 * announced or was announced, transaction hashes it sent, announced or was sent. Bounded per
 * peer (least recently seen forgotten first), as geth's knownBlocks/knownTxs; forgetting only
 * costs a redundant announcement. Hashes are keyed by their unprefixed hex.
 */
export class PeerKnowledge {
  private readonly peers = new Map<string, { blocks: LruMap<string, true>; txs: LruMap<string, true> }>()
  private readonly maxBlocks: number
  private readonly maxTxs: number

  constructor(opts: { maxKnownBlocks: number; maxKnownTxs: number }) {
    this.maxBlocks = opts.maxKnownBlocks
    this.maxTxs = opts.maxKnownTxs
  }

  markBlock(peerId: string, hash: Uint8Array): void {
    this.of(peerId).blocks.set(hexKey(hash), true)
  }

  knowsBlock(peerId: string, hash: Uint8Array): boolean {
    return this.peers.get(peerId)?.blocks.get(hexKey(hash)) === true
  }

  markTx(peerId: string, hash: Uint8Array): void {
    this.of(peerId).txs.set(hexKey(hash), true)
  }

  knowsTx(peerId: string, hash: Uint8Array): boolean {
    return this.peers.get(peerId)?.txs.get(hexKey(hash)) === true
  }

  /** Peers whose sets are kept (the pool's, as long as they are in it). */
  get size(): number {
    return this.peers.size
  }

  /** Forgets a peer that left. */
  forget(peerId: string): void {
    this.peers.delete(peerId)
  }

  clear(): void {
    this.peers.clear()
  }

  private of(peerId: string): { blocks: LruMap<string, true>; txs: LruMap<string, true> } {
    let sets = this.peers.get(peerId)
    if (sets === undefined) {
      sets = { blocks: new LruMap(this.maxBlocks), txs: new LruMap(this.maxTxs) }
      this.peers.set(peerId, sets)
    }
    return sets
  }
}

/** Unprefixed hex of a hash, built in one piece (see peerIdHex for why not byte by byte). */
export function hexKey(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex')
}
