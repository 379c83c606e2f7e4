import { bytesToHex } from '@ethereumjs/util'
import debug from 'debug'

import { LruMap } from '../../p2p/util/lru'
import { PeerDisconnectedError, RequestTimeoutError } from '../net/protocol/errors'
import { ReputationEvent } from '../net/reputation'
import { Event } from '../types'

import { findAncestor } from './ancestor'
import { SyncPeerError, SyncTimeoutError } from './errors'
import { HeadProbes, type Target, selectTarget } from './heads'
import { type RankPeers, byReputationThenHead, claimedHead } from './peerhead'
import { type RoundOutcome, SyncRound } from './round'

import type { Chain } from '../blockchain/chain'
import type { Config } from '../config'
import type { Peer } from '../net/peer/peer'
import type { PeerPool } from '../net/peerpool'
import type { PeerKnowledge } from '../service/knowledge'
import type { EventListener, SyncProgress, SyncStatusSource } from '../types'
import type { Job } from './jobs'

const log = debug('client:sync')

/**
 * A synchronized node that learns of a head this many blocks ahead counts as behind again
 * (SYNC_STARTED once more): following the chain is a block or a few at a time.
 */
export const FOLLOW_DISTANCE = 64n

/** After a round that could not finish, the next attempt waits this long (or for a peer to join or announce). */
export const SYNC_RETRY_MS = 2_000

/** Head hashes remembered as leading to an invalid chain (never synced toward again). */
export const MAX_BAD_HEADS = 1024

/** Messages by which a peer tells its head: up to eth/68 the block announcements, from eth/69 BlockRangeUpdate. */
const HEAD_ANNOUNCEMENTS = new Set(['NewBlockHashes', 'NewBlock', 'BlockRangeUpdate'])

export interface SynchronizerOptions {
  config: Config
  chain: Chain
  pool: PeerPool
  /** Blocks a peer delivered are marked known to it (so they are not announced back). */
  knowledge?: PeerKnowledge
  /** Peer preference for targets and work; default byReputationThenHead. */
  rankPeers?: RankPeers
}

/** Items each peer delivered to the synchronizer so far (headers, bodies, receipt lists). */
export interface PeerSyncStats {
  headers: number
  bodies: number
  receipts: number
}

/**
 * Keeps the chain at the best head its peers know. Whenever a peer joins or announces a head,
 * and after every round, it looks for a target (selectTarget: a longer chain, its header
 * served by the peer claiming it), finds the common ancestor (findAncestor: the chain may fork
 * from ours; the chain switches to it when it is longer) and runs a SyncRound to it. Emits
 * SYNC_STARTED when it sets out while behind, SYNC_PROGRESS per imported batch and
 * SYNC_SYNCHRONIZED once no peer knows a longer chain; from then on each announced block is
 * a short round of its own. Peers that fail are reported (PEER_ERROR) and, for provably bad
 * data, banned. start/stop are idempotent.
 */
export class Synchronizer implements SyncStatusSource {
  readonly config: Config
  readonly chain: Chain
  readonly pool: PeerPool
  readonly rankPeers: RankPeers
  private readonly knowledge?: PeerKnowledge
  private readonly probes = new HeadProbes()
  private readonly badHeads = new LruMap<string, true>(MAX_BAD_HEADS)
  private readonly served = new Map<string, PeerSyncStats>()
  private running = false
  private synced = false
  private again = false
  private loop?: Promise<void>
  private round?: SyncRound
  private retry?: ReturnType<typeof setTimeout>
  private targetValue?: { height: bigint; hash: Uint8Array }
  /** Our head when the current catching-up began (geth's eth_syncing startingBlock). */
  private startingBlock?: bigint

  constructor(opts: SynchronizerOptions) {
    this.config = opts.config
    this.chain = opts.chain
    this.pool = opts.pool
    this.knowledge = opts.knowledge
    this.rankPeers = opts.rankPeers ?? byReputationThenHead
  }

  /** Whether the node has reached the best head its peers know (and not fallen far behind since). */
  get synchronized(): boolean {
    return this.synced
  }

  get isRunning(): boolean {
    return this.running
  }

  /** The head being synced toward, while a round runs. */
  get target(): { height: bigint; hash: Uint8Array } | undefined {
    return this.round === undefined ? undefined : this.targetValue
  }

  /**
   * geth's eth_syncing view: false once synchronized (following the head block by block is
   * not syncing) and before the first target, else where the catching-up started, where the
   * chain is and where it is going (also between two rounds of the catching-up).
   */
  syncing(): false | SyncProgress {
    const target = this.targetValue
    if (this.synced || this.startingBlock === undefined || target === undefined) return false
    const currentBlock = this.chain.headers.height
    return { startingBlock: this.startingBlock, currentBlock, highestBlock: target.height }
  }

  /** What each peer (by id) in the pool has delivered so far (a peer that leaves is forgotten). */
  get stats(): ReadonlyMap<string, PeerSyncStats> {
    return this.served
  }

  start(): void {
    if (this.running) return
    this.running = true
    const events = this.config.events
    events.on(Event.POOL_PEER_ADDED, this.onPeersChanged)
    events.on(Event.POOL_PEER_REMOVED, this.onPeerRemoved)
    events.on(Event.PROTOCOL_MESSAGE, this.onMessage)
    log('started')
    this.kick()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    const events = this.config.events
    events.off(Event.POOL_PEER_ADDED, this.onPeersChanged)
    events.off(Event.POOL_PEER_REMOVED, this.onPeerRemoved)
    events.off(Event.PROTOCOL_MESSAGE, this.onMessage)
    clearTimeout(this.retry)
    this.retry = undefined
    this.round?.abort('synchronizer stopped')
    await this.loop
    this.startingBlock = undefined
    this.probes.clear()
    log('stopped')
  }

  /** A new peer: learn the number of its head (its Status names only the hash), so it can take work; maybe a target. */
  private readonly onPeersChanged: EventListener<Event.POOL_PEER_ADDED> = (peer) => {
    this.kick()
    if (claimedHead(peer)?.number !== undefined) return
    this.probes
      .probe(peer)
      .catch((err: unknown) => this.probeFailed(peer, err))
      .finally(() => this.round?.peersChanged())
  }

  private readonly onPeerRemoved: EventListener<Event.POOL_PEER_REMOVED> = (peer) => {
    this.probes.forget(peer.id)
    this.served.delete(peer.id)
    this.round?.peersChanged()
  }

  /** A head announcement (recorded on the peer by now): maybe a longer chain. */
  private readonly onMessage: EventListener<Event.PROTOCOL_MESSAGE> = (msg) => {
    if (HEAD_ANNOUNCEMENTS.has(msg.name)) this.kick()
  }

  /** Looks for a target now, or after the running round. */
  private kick(): void {
    if (!this.running) return
    this.again = true
    this.round?.peersChanged()
    if (this.loop !== undefined) return
    this.loop = this.cycles().finally(() => (this.loop = undefined))
  }

  private async cycles(): Promise<void> {
    while (this.running && this.again) {
      this.again = false
      try {
        await this.cycle()
      } catch (err) {
        // Our own failure (the chain closed under us, ...): try again later, not in a tight loop.
        log('sync cycle failed: %s', (err as Error).message)
        this.retryLater()
      }
    }
  }

  private usablePeers(): Peer[] {
    return this.rankPeers(this.pool.peers.filter((p) => p.eth !== undefined && !p.eth.closed))
  }

  private async cycle(): Promise<void> {
    const peers = this.usablePeers()
    if (peers.length === 0) return
    const head = this.chain.headers.latest
    const { target, unsettled } = await selectTarget({
      peers,
      head,
      probes: this.probes,
      isBad: (hash) => this.badHeads.get(bytesToHex(hash)) === true,
      onProbeError: (peer, err) => this.probeFailed(peer, err),
    })
    if (!this.running) return
    if (target === undefined) {
      // A peer that did not answer may still know a longer chain: ask again later before claiming to be synchronized.
      if (unsettled > 0) this.retryLater()
      else if (!this.synced) this.markSynchronized()
      return
    }
    if (this.synced && target.header.number - head.number > FOLLOW_DISTANCE) this.synced = false
    await this.syncTo(target)
  }

  private async syncTo(target: Target): Promise<void> {
    const { peer, header } = target
    let ancestor
    try {
      const max = this.maxForkDepth()
      ancestor = await findAncestor(peer, header, this.chain, max.depth, max.limit)
    } catch (err) {
      this.probeFailed(peer, err)
      this.probes.refuse(peer, 'no common ancestor found')
      this.again = true
      return
    }
    if (!this.running) return
    this.targetValue = { height: header.number, hash: header.hash() }
    if (!this.synced) {
      this.startingBlock ??= this.chain.headers.height
      this.config.events.emit(Event.SYNC_STARTED, { target: header.number, hash: header.hash(), peer })
    }
    const round = new SyncRound(
      {
        config: this.config,
        chain: this.chain,
        peers: () => this.usablePeers(),
        report: (p, err) => this.report(p, err),
        progress: (height) => this.config.events.emit(Event.SYNC_PROGRESS, { height, target: header.number }),
        delivered: (p, kind, hashes) => this.delivered(p, kind, hashes),
      },
      { master: peer, target: header, ancestor },
    )
    this.round = round
    let outcome: RoundOutcome
    try {
      outcome = await round.start()
    } finally {
      this.round = undefined
    }
    this.afterRound(target, outcome)
  }

  /**
   * The deepest fork below our head worth syncing: syncMaxForkDepth, and on a chain that keeps
   * only recent states (a dataDir) less than its state history, because the blocks above the
   * common ancestor are executed on the ancestor's state.
   */
  private maxForkDepth(): { depth: number; limit: string } {
    const history = this.chain.stateHistory
    if (history !== undefined && history - 1 < this.config.syncMaxForkDepth) return { depth: history - 1, limit: `stateHistory: the states of the last ${history} blocks are kept` }
    return { depth: this.config.syncMaxForkDepth, limit: 'syncMaxForkDepth' }
  }

  private afterRound(target: Target, outcome: RoundOutcome): void {
    if (outcome.status === 'complete') {
      log('round complete, head #%d', this.chain.headers.height)
      this.again = true
      return
    }
    log('round toward #%d failed: %s', target.header.number, outcome.reason)
    if (outcome.badTarget) this.badHeads.set(bytesToHex(target.header.hash()), true)
    // A master that failed its own round is not followed to this head again; its next head, or another peer, may do.
    if (outcome.masterFailed) this.probes.refuse(target.peer, outcome.reason)
    if (this.running) this.retryLater()
  }

  private markSynchronized(): void {
    this.synced = true
    this.startingBlock = undefined
    const latest = this.chain.headers.latest
    log('synchronized at #%d', latest.number)
    this.config.events.emit(Event.SYNC_SYNCHRONIZED, { height: latest.number, hash: latest.hash() })
  }

  private retryLater(): void {
    if (this.retry !== undefined || !this.running) return
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.kick()
    }, SYNC_RETRY_MS)
  }

  private probeFailed(peer: Peer, err: unknown): void {
    if (err instanceof SyncPeerError) this.report(peer, err)
    else if (err instanceof RequestTimeoutError) this.report(peer, new SyncTimeoutError(`head probe: ${err.message}`, { cause: err }))
    else if (!(err instanceof PeerDisconnectedError)) log('probing %s failed: %s', peer.toString(), (err as Error).message)
  }

  /**
   * A peer failed its part: PEER_ERROR, a ban for provably bad data, and for the failures an
   * honest peer can have a USELESS mark on its reputation, so repeated ones push it down the
   * ranking and, past the threshold, out (timeouts are marked by the request layer itself).
   */
  private report(peer: Peer, err: SyncPeerError): void {
    log('%s: %s', peer.toString(), err.message)
    this.config.events.emit(Event.PEER_ERROR, err, peer)
    if (err.provable) {
      if (this.pool.contains(peer)) this.pool.ban(peer, `sync: ${err.message}`)
    } else if (!(err instanceof SyncTimeoutError)) {
      this.config.reputation.report(peer, ReputationEvent.USELESS)
    }
  }

  private delivered(peer: Peer, kind: Job['spec']['kind'], hashes: Uint8Array[]): void {
    let s = this.served.get(peer.id)
    if (s === undefined) this.served.set(peer.id, (s = { headers: 0, bodies: 0, receipts: 0 }))
    if (kind === 'bodies') s.bodies += hashes.length
    else if (kind === 'receipts') s.receipts += hashes.length
    else {
      s.headers += hashes.length
      if (this.knowledge !== undefined) for (const h of hashes) this.knowledge.markBlock(peer.id, h)
    }
  }
}
