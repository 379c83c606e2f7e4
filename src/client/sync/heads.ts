import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { PeerDisconnectedError } from '../net/protocol/errors'

import { SyncPeerError, UnservedHeadError } from './errors'
import { checkHeadHeader } from './headerchain'
import { type PeerHead, claimedHead } from './peerhead'

import type { BlockHeader } from '@ethereumjs/block'
import type { Peer } from '../net/peer/peer'

/** What became of a peer's claimed head: its header (the peer serves it), or why it is not a target. */
type ProbeResult = { header: BlockHeader } | { refused: string }

/**
 * Checks that each peer serves the head it claims, once per claimed hash: the header is
 * fetched by hash from that peer, must carry that hash (and the announced number), and then
 * tells us the number when only the hash was known (Status). The number goes back into the
 * peer's record, so everyone reading `claimedHead` sees it. A peer whose head cannot be used
 * (not served, a wrong header, or a round toward it failed) is not probed again until it
 * claims another head; a probe that timed out is tried again at the next look for a target.
 */
export class HeadProbes {
  private readonly results = new Map<string, { hash: string; result: ProbeResult }>()
  private readonly running = new Map<string, Promise<ProbeResult>>()

  /** The peer's head header, or undefined when it is not a usable target. Throws a SyncPeerError for a bad or missing reply. */
  async probe(peer: Peer): Promise<BlockHeader | undefined> {
    const head = claimedHead(peer)
    if (head === undefined) return undefined
    const key = bytesToHex(head.hash)
    const known = this.results.get(peer.id)
    if (known?.hash === key) return 'header' in known.result ? known.result.header : undefined
    let run = this.running.get(peer.id)
    if (run === undefined) {
      run = fetchHead(peer, head)
      this.running.set(peer.id, run)
      run
        .then(
          (result) => this.results.set(peer.id, { hash: key, result }),
          (err: Error) => {
            // A definite answer (not served, a wrong header) stands; a timeout or a closed session is asked again next time.
            if (err instanceof SyncPeerError) this.results.set(peer.id, { hash: key, result: { refused: err.message } })
          },
        )
        .finally(() => this.running.delete(peer.id))
    }
    const result = await run
    return 'header' in result ? result.header : undefined
  }

  /** The peer's current head is not to be synced toward (a round toward it failed). */
  refuse(peer: Peer, reason: string): void {
    const head = claimedHead(peer)
    if (head !== undefined) this.results.set(peer.id, { hash: bytesToHex(head.hash), result: { refused: reason } })
  }

  /** Whether the peer's current claim has a definite probe result (a timed-out probe has none). */
  settled(peer: Peer): boolean {
    const head = claimedHead(peer)
    return head !== undefined && this.results.get(peer.id)?.hash === bytesToHex(head.hash)
  }

  forget(peerId: string): void {
    this.results.delete(peerId)
  }

  clear(): void {
    this.results.clear()
  }
}

async function fetchHead(peer: Peer, head: PeerHead): Promise<ProbeResult> {
  const eth = peer.eth
  if (eth === undefined || eth.closed) throw new PeerDisconnectedError(`${peer.toString()} has no eth session`)
  const [header] = await eth.getBlockHeaders({ block: head.hash, max: 1 })
  if (header === undefined) throw new UnservedHeadError(`${peer.toString()} claims head ${bytesToHex(head.hash)}${head.number === undefined ? '' : ` (#${head.number})`} but does not serve its header`)
  checkHeadHeader(header, head.hash, head.number)
  peer.noteAnnouncement({ hash: head.hash, number: header.number, header })
  return { header }
}

/** A peer whose claimed head would lengthen our chain, with that head's header. */
export interface Target {
  peer: Peer
  header: BlockHeader
}

export interface TargetQuery {
  /** Usable peers, most preferred first. */
  peers: readonly Peer[]
  /** Our head. */
  head: BlockHeader
  probes: HeadProbes
  /** Heads known to lead to an invalid chain. */
  isBad: (hash: Uint8Array) => boolean
  /** A probe failed with a SyncPeerError (or another error): report it. */
  onProbeError: (peer: Peer, err: unknown) => void
}

/** A target, or none; `unsettled` counts peers that may claim a longer head but could not be asked (a timeout). */
export interface Selection {
  target?: Target
  unsettled: number
}

/**
 * The best head the peers know that is longer than ours (ties keep ours), from the most
 * preferred of the peers claiming it, once that peer served its header. Peers that only
 * gave a hash are probed first, in parallel, to learn their numbers.
 */
export async function selectTarget(q: TargetQuery): Promise<Selection> {
  const longer = (h: PeerHead | undefined): boolean =>
    h !== undefined && !q.isBad(h.hash) && !equalsBytes(h.hash, q.head.hash()) && (h.number === undefined || h.number > q.head.number)
  const candidates = q.peers.filter((p) => longer(claimedHead(p)))
  const probe = (p: Peer): Promise<BlockHeader | undefined> =>
    q.probes.probe(p).catch((err: unknown) => {
      q.onProbeError(p, err)
      return undefined
    })
  await Promise.all(candidates.filter((p) => claimedHead(p)?.number === undefined).map(probe))
  const ranked = candidates
    .map((peer, rank) => ({ peer, rank, number: claimedHead(peer)?.number ?? -1n }))
    .filter((c) => c.number > q.head.number)
    .sort((a, b) => (a.number !== b.number ? (a.number > b.number ? -1 : 1) : a.rank - b.rank))
  for (const { peer } of ranked) {
    const header = await probe(peer)
    if (header !== undefined && header.number > q.head.number && !q.isBad(header.hash())) return { target: { peer, header }, unsettled: 0 }
  }
  return { unsettled: candidates.filter((p) => !q.probes.settled(p)).length }
}
