import type { Peer } from '../net/peer/peer'

/**
 * What a peer says its head is: the hash always, the number when it said so. Everything the
 * synchronizer knows about a peer's chain comes through here, from the Peer's own record:
 * its Status (the best hash on eth/66-68), its announcements (NewBlockHashes, NewBlock; from
 * eth/69 on, BlockRangeUpdate and the Status' latest block, which the Peer records the same
 * way), and the header we fetched for that hash.
 */
export interface PeerHead {
  hash: Uint8Array
  number?: bigint
}

export function claimedHead(peer: Peer): PeerHead | undefined {
  const hash = peer.bestHash
  if (hash === undefined) return undefined
  return { hash, number: peer.bestNumber }
}

/**
 * Orders peers by preference for sync work; the synchronizer takes targets, the skeleton and
 * its first jobs from the front of the list. The seam through which peer reputation steers
 * peer choice.
 */
export type RankPeers = (peers: readonly Peer[]) => Peer[]

/** Default preference: the highest claimed head first (unknown heads last), then the pool's order. */
export const byClaimedHead: RankPeers = (peers) => {
  const number = (p: Peer): bigint => claimedHead(p)?.number ?? -1n
  return peers
    .map((peer, i) => ({ peer, i, n: number(peer) }))
    .sort((a, b) => (a.n !== b.n ? (a.n > b.n ? -1 : 1) : a.i - b.i))
    .map((x) => x.peer)
}

/**
 * Peers scoring below this are ranked after every peer at or above it, whatever head they
 * claim: a peer that has been timing out or lying is asked last (and the reputation table
 * disconnects it further down, see net/reputation.ts).
 */
export const DISTRUSTED_SCORE = 0

/**
 * The synchronizer's default preference: trusted peers (score ≥ DISTRUSTED_SCORE) first; among
 * them the highest claimed head first, a better score breaking ties; then the distrusted ones,
 * in the same order. So reputation steers who gets sync work without letting a well-behaved
 * peer with a short chain stand in front of the one that has the target.
 */
export const byReputationThenHead: RankPeers = (peers) => {
  const number = (p: Peer): bigint => claimedHead(p)?.number ?? -1n
  return peers
    .map((peer, i) => ({ peer, i, n: number(peer), score: peer.score, trusted: peer.score >= DISTRUSTED_SCORE }))
    .sort((a, b) => {
      if (a.trusted !== b.trusted) return a.trusted ? -1 : 1
      if (a.n !== b.n) return a.n > b.n ? -1 : 1
      if (a.score !== b.score) return b.score - a.score
      return a.i - b.i
    })
    .map((x) => x.peer)
}
