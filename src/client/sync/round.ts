import { bytesToHex } from '@ethereumjs/util'
import debug from 'debug'

import { ChainError, InvalidBlockError, StatePrunedError } from '../blockchain/errors'
import { verifyBody, verifyReceipts } from '../blockchain/verify'
import { PeerDisconnectedError, RequestTimeoutError } from '../net/protocol/errors'

import { assembleBlock, emptyBody, needsBody, needsReceipts } from './blockparts'
import { BadBodiesError, BadReceiptsError, InvalidChainError, MissingDataError, OtherChainError, SyncPeerError, SyncTimeoutError } from './errors'
import { checkEnds, checkRun, checkSkeleton } from './headerchain'
import { type HeaderJob, type ItemJob, type Job, JobQueue, type SkeletonJob, itemJobs } from './jobs'
import { claimedHead } from './peerhead'

import type { BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { Chain } from '../blockchain/chain'
import type { Config } from '../config'
import type { Peer } from '../net/peer/peer'

const log = debug('client:sync')

/**
 * Skeleton headers one round asks for (geth's MaxSkeletonSize): a round covers at most this
 * many header spans, and a longer sync takes several rounds.
 */
export const MAX_SKELETON_HEADERS = 128

/**
 * Blocks handed to one putBlocks: large enough that the per-call work (head update, event,
 * announcement) is small against execution, small enough that progress shows while a long
 * sync runs and fetched data is freed soon.
 */
export const IMPORT_BATCH = 128

/**
 * Fewest blocks in a bodies or receipts request when the work is spread thin: below this a
 * request's round trip costs more than the items it carries.
 */
export const MIN_ITEM_BATCH = 8

/** What a round syncs: the chain of `master`'s head `target`, from `ancestor` (a block we hold). */
export interface RoundPlan {
  master: Peer
  target: BlockHeader
  ancestor: BlockHeader
}

export interface RoundDeps {
  config: Config
  chain: Chain
  /** Usable peers (in the pool, eth session open), most preferred first. */
  peers: () => Peer[]
  /** A peer failed its part: report it (and ban it when the error is provable). */
  report: (peer: Peer, err: SyncPeerError) => void
  /** Blocks were imported; the chain's head is now `height`. */
  progress: (height: bigint) => void
  /** `peer` delivered data for the blocks with these hashes (it has them). */
  delivered: (peer: Peer, kind: Job['spec']['kind'], hashes: Uint8Array[]) => void
}

/** How a round ended. `badTarget`: the target's chain proved bad, not to be synced again. */
export type RoundOutcome = { status: 'complete' } | { status: 'failed'; reason: string; badTarget: boolean; masterFailed: boolean }

/**
 * One header-first sync from `ancestor` to `target` (or to the last skeleton header, when the
 * target is further than MAX_SKELETON_HEADERS spans): a skeleton from the master, header
 * segments filled in between by any peer and checked against it, then bodies and receipts
 * checked against the headers, all from every suitable peer at once (several requests per
 * peer in flight), and imported in order as they complete. A peer that fails loses its jobs
 * to the others; the round fails only when no peer can take the work that is left.
 */
export class SyncRound {
  private readonly deps: RoundDeps
  private readonly plan: RoundPlan
  private readonly queue = new JobQueue()
  private readonly headers = new Map<bigint, BlockHeader>()
  private readonly bodies = new Map<bigint, BlockBodyBytes>()
  private readonly receipts = new Map<bigint, Uint8Array[]>()
  private readonly excluded = new Set<string>()
  private readonly inflight = new Map<string, number>()
  private readonly span: bigint
  private end: bigint
  private nextImport: bigint
  private importing = false
  /** The skeleton was asked for and has not arrived: only the master can give it. */
  private awaitingSkeleton = false
  private outcome?: RoundOutcome
  private settle!: (o: RoundOutcome) => void
  readonly done: Promise<RoundOutcome>

  constructor(deps: RoundDeps, plan: RoundPlan) {
    this.deps = deps
    this.plan = plan
    this.span = BigInt(deps.config.syncHeaderBatch)
    this.nextImport = plan.ancestor.number + 1n
    const capped = plan.ancestor.number + this.span * BigInt(MAX_SKELETON_HEADERS)
    this.end = plan.target.number < capped ? plan.target.number : capped
    this.done = new Promise((resolve) => (this.settle = resolve))
  }

  /** The last block this round imports. */
  get last(): bigint {
    return this.end
  }

  start(): Promise<RoundOutcome> {
    const { ancestor, target } = this.plan
    const count = this.end - ancestor.number
    if (count <= this.span) {
      if (count === 1n) this.acceptHeaders([target])
      else this.queue.add({ kind: 'headers', first: ancestor.number + 1n, count: Number(count), parentHash: ancestor.hash(), endHash: target.hash() })
    } else {
      this.queue.add({ kind: 'skeleton', first: ancestor.number + this.span, count: Number(count / this.span), span: this.span })
      this.awaitingSkeleton = true
    }
    log('round: #%d..#%d toward #%d %s from %s', ancestor.number + 1n, this.end, target.number, bytesToHex(target.hash()), this.plan.master.toString())
    this.pump()
    return this.done
  }

  /** Ends the round now (the synchronizer stops, or its target went bad). */
  abort(reason: string): void {
    this.fail(reason)
  }

  /** Peers joined or announced: there may be someone for waiting work now. */
  peersChanged(): void {
    this.pump()
  }

  /** Hands waiting jobs to peers with free request slots, least busy first, until none fits. */
  private pump(): void {
    if (this.outcome !== undefined) return
    const before = this.nextImport + BigInt(this.deps.config.syncMaxBlocksAhead)
    for (;;) {
      const free = this.deps
        .peers()
        .filter((p) => !this.excluded.has(p.id) && this.load(p) < this.deps.config.syncRequestsPerPeer)
        .map((peer, rank) => ({ peer, rank, load: this.load(peer) }))
        .sort((a, b) => a.load - b.load || a.rank - b.rank)
      let dispatched = false
      for (const { peer } of free) {
        const job = this.queue.take(peer.id, (j) => this.eligible(peer, j), before)
        if (job === undefined) continue
        this.dispatch(peer, job)
        dispatched = true
        break
      }
      if (!dispatched) break
    }
    this.checkStalled()
  }

  private load(peer: Peer): number {
    return this.inflight.get(peer.id) ?? 0
  }

  /** The skeleton only from the master; other work from peers whose head reaches it (the master's does). */
  private eligible(peer: Peer, job: Job): boolean {
    if (peer === this.plan.master) return true
    if (job.spec.kind === 'skeleton') return false
    const head = claimedHead(peer)?.number
    return head !== undefined && head >= job.highest
  }

  private dispatch(peer: Peer, job: Job): void {
    this.inflight.set(peer.id, this.load(peer) + 1)
    this.request(peer, job)
      .then(
        (items) => {
          if (this.outcome === undefined && this.queue.holds(job, peer.id)) this.accept(peer, job, items)
        },
        (err: unknown) => {
          if (this.outcome === undefined && this.queue.holds(job, peer.id)) this.requestFailed(peer, job, err)
        },
      )
      .finally(() => {
        this.inflight.set(peer.id, this.load(peer) - 1)
        this.pump()
      })
  }

  private request(peer: Peer, job: Job): Promise<unknown[]> {
    const eth = peer.eth
    if (eth === undefined || eth.closed) return Promise.reject(new PeerDisconnectedError(`${peer.toString()} has no eth session`))
    const spec = job.spec
    switch (spec.kind) {
      case 'skeleton':
        return eth.getBlockHeaders({ block: spec.first, max: spec.count, skip: Number(spec.span) - 1 })
      case 'headers':
        return eth.getBlockHeaders({ block: spec.first, max: spec.count })
      case 'bodies':
        return eth.getBlockBodies({ hashes: this.hashesOf(spec) })
      case 'receipts':
        return eth.getReceipts({ hashes: this.hashesOf(spec) })
    }
  }

  private hashesOf(spec: ItemJob): Uint8Array[] {
    return spec.numbers.map((n) => this.headers.get(n)!.hash())
  }

  private accept(peer: Peer, job: Job, items: unknown[]): void {
    try {
      const spec = job.spec
      if (spec.kind === 'skeleton') this.acceptSkeleton(spec, items as BlockHeader[])
      else if (spec.kind === 'headers') this.acceptSegment(peer, job, spec, items as BlockHeader[])
      else this.acceptItems(peer, job, spec, items)
      this.queue.done(job)
    } catch (err) {
      if (isPeerFault(err)) this.peerFailed(peer, job, err)
      // Not the peer's doing: a fault of ours must not leave the job held by nobody.
      else this.fail(`handling ${job.spec.kind} from ${peer.toString()} failed: ${(err as Error).message}`)
    }
  }

  private acceptSkeleton(spec: SkeletonJob, headers: BlockHeader[]): void {
    checkSkeleton(headers, spec.first, spec.span, spec.count)
    this.awaitingSkeleton = false
    const { ancestor, target } = this.plan
    const lastPoint = headers[headers.length - 1]!
    if (lastPoint.number === target.number) checkEnds([lastPoint], lastPoint.parentHash, target.hash())
    // Segments end at skeleton headers (their hashes known), the last one at the target.
    let parentHash = ancestor.hash()
    let first = ancestor.number + 1n
    for (const point of headers) {
      this.queue.add({ kind: 'headers', first, count: Number(point.number - first + 1n), parentHash, endHash: point.hash() })
      parentHash = point.hash()
      first = point.number + 1n
    }
    if (first <= this.end) this.queue.add({ kind: 'headers', first, count: Number(this.end - first + 1n), parentHash, endHash: target.hash() })
  }

  private acceptSegment(peer: Peer, job: Job, spec: HeaderJob, headers: BlockHeader[]): void {
    checkRun(headers, { first: spec.first, count: spec.count })
    try {
      checkEnds(headers, spec.parentHash, spec.endHash)
    } catch (err) {
      // Two peers that both put this segment off the skeleton: the skeleton is what is wrong.
      job.disagreed.add(peer.id)
      if (job.disagreed.size >= 2) this.blameMaster(new OtherChainError(`skeleton header #${spec.first + BigInt(spec.count) - 1n} disagrees with the chains of ${job.disagreed.size} peers`))
      throw err
    }
    this.deps.delivered(peer, 'headers', headers.map((h) => h.hash()))
    this.acceptHeaders(headers)
  }

  /** Stores verified headers and queues the bodies and receipts they need (empty ones are known at once). */
  private acceptHeaders(headers: readonly BlockHeader[]): void {
    const withBody: bigint[] = []
    const withReceipts: bigint[] = []
    for (const h of headers) {
      this.headers.set(h.number, h)
      if (needsBody(h)) withBody.push(h.number)
      else this.bodies.set(h.number, emptyBody(h))
      if (needsReceipts(h)) withReceipts.push(h.number)
      else this.receipts.set(h.number, [])
    }
    for (const job of itemJobs('bodies', withBody, this.itemBatch(withBody.length, this.deps.config.syncBodyBatch))) this.queue.add(job)
    for (const job of itemJobs('receipts', withReceipts, this.itemBatch(withReceipts.length, this.deps.config.syncReceiptBatch))) this.queue.add(job)
    void this.importReady()
  }

  /**
   * Blocks per bodies/receipts request: the configured batch, or less when that would leave
   * request slots idle: every peer's slots get a share, so the blocks arrive from all of them
   * at once and the first ones can be imported while the rest travel.
   */
  private itemBatch(count: number, max: number): number {
    const slots = Math.max(1, this.deps.peers().filter((p) => !this.excluded.has(p.id)).length * this.deps.config.syncRequestsPerPeer)
    return Math.min(max, Math.max(MIN_ITEM_BATCH, Math.ceil(count / slots)))
  }

  /** Keeps the verified prefix of a bodies/receipts reply and queues what is missing. */
  private acceptItems(peer: Peer, job: Job, spec: ItemJob, items: unknown[]): void {
    const store = spec.kind === 'bodies' ? this.bodies : this.receipts
    const accepted: Uint8Array[] = []
    try {
      items.forEach((item, i) => {
        const header = this.headers.get(spec.numbers[i]!)!
        verifyItem(spec.kind, header, item)
        store.set(header.number, item as never)
        accepted.push(header.hash())
      })
    } finally {
      if (accepted.length > 0) this.deps.delivered(peer, spec.kind, accepted)
    }
    if (items.length === 0) throw new MissingDataError(`no ${spec.kind} for #${spec.numbers[0]}..#${spec.numbers[spec.numbers.length - 1]}`)
    // A reply cut short by the server's size limit: the rest is a new job, for any peer.
    if (items.length < spec.numbers.length) this.queue.add({ kind: spec.kind, numbers: spec.numbers.slice(items.length) })
    void this.importReady()
  }

  private requestFailed(peer: Peer, job: Job, err: unknown): void {
    if (err instanceof RequestTimeoutError) {
      this.peerFailed(peer, job, new SyncTimeoutError(`${job.spec.kind} request: ${err.message}`, { cause: err }))
      return
    }
    // A closed session or a protocol violation (the bound protocol reports that itself).
    log('%s request to %s failed: %s', job.spec.kind, peer.toString(), (err as Error).message)
    this.exclude(peer)
  }

  /** The peer loses every job of this round to the others, and is reported. */
  private peerFailed(peer: Peer, job: Job, err: SyncPeerError): void {
    log('%s from %s: %s', job.spec.kind, peer.toString(), err.message)
    this.deps.report(peer, err)
    this.exclude(peer)
  }

  private exclude(peer: Peer): void {
    this.excluded.add(peer.id)
    const taken = this.queue.releasePeer(peer.id)
    if (taken > 0) log('%d jobs of %s go to other peers', taken, peer.toString())
    // Without the master the skeleton cannot come: the round ends, the next one picks a target anew.
    if (peer === this.plan.master && this.awaitingSkeleton) {
      this.fail(`${peer.toString()} failed before its skeleton arrived`)
    }
  }

  private blameMaster(err: SyncPeerError): void {
    this.deps.report(this.plan.master, err)
    this.finish({ status: 'failed', reason: err.message, badTarget: true, masterFailed: true })
  }

  /** Imports every complete block from the import point on, in order, a batch at a time. */
  private async importReady(): Promise<void> {
    if (this.importing || this.outcome !== undefined) return
    this.importing = true
    try {
      for (;;) {
        const batch = this.readyBatch()
        if (batch.length === 0) break
        await this.importBatch(batch)
        if (this.outcome !== undefined) return
      }
    } finally {
      this.importing = false
    }
    if (this.nextImport > this.end) this.finish({ status: 'complete' })
    else this.pump()
  }

  private readyBatch(): bigint[] {
    const out: bigint[] = []
    for (let n = this.nextImport; n <= this.end && out.length < IMPORT_BATCH; n++) {
      if (!this.headers.has(n) || !this.bodies.has(n) || !this.receipts.has(n)) break
      out.push(n)
    }
    return out
  }

  private async importBatch(numbers: bigint[]): Promise<void> {
    const common = this.deps.config.common
    let blocks
    try {
      blocks = numbers.map((n) => assembleBlock(this.headers.get(n)!, this.bodies.get(n)!, common))
    } catch (err) {
      // The body matched its header's roots, yet its transactions do not decode: the chain carries them.
      this.blameMaster(new InvalidChainError(`the chain of ${bytesToHex(this.plan.target.hash())} holds undecodable transactions: ${(err as Error).message}`, { cause: err }))
      return
    }
    try {
      // The fetched receipts were checked against their headers already, and execution makes
      // the chain's own (which must match the same receipts root): not handed over to be checked twice.
      await this.deps.chain.putBlocks(blocks)
    } catch (err) {
      if (err instanceof StatePrunedError) {
        // Our head moved on while this round ran, and the fork point's state is gone: nobody's
        // fault, but this target cannot be synced from here (the ancestor search now says so).
        this.finish({ status: 'failed', reason: err.message, badTarget: false, masterFailed: true })
        return
      }
      if (err instanceof InvalidBlockError) {
        // Bodies and receipts matched their headers, the headers the skeleton: the chain itself is invalid.
        this.blameMaster(new InvalidChainError(`the chain of ${bytesToHex(this.plan.target.hash())} is invalid: ${err.message}`, { cause: err }))
        return
      }
      this.fail(`import failed: ${(err as Error).message}`)
      return
    }
    for (const n of numbers) {
      this.headers.delete(n)
      this.bodies.delete(n)
      this.receipts.delete(n)
    }
    this.nextImport = numbers[numbers.length - 1]! + 1n
    this.deps.progress(this.deps.chain.headers.height)
  }

  /** No request in flight, no import running, and waiting work nobody may take: the round cannot finish. */
  private checkStalled(): void {
    if (this.outcome !== undefined || this.importing) return
    for (const n of this.inflight.values()) if (n > 0) return
    if (this.queue.size === 0 || !this.queue.hasWaiting(this.nextImport + BigInt(this.deps.config.syncMaxBlocksAhead))) return
    this.fail(`no peer can serve the rest of #${this.nextImport}..#${this.end}`)
  }

  private fail(reason: string): void {
    this.finish({ status: 'failed', reason, badTarget: false, masterFailed: this.excluded.has(this.plan.master.id) })
  }

  private finish(outcome: RoundOutcome): void {
    if (this.outcome !== undefined) return
    this.outcome = outcome
    this.queue.clear()
    this.headers.clear()
    this.bodies.clear()
    this.receipts.clear()
    this.settle(outcome)
  }
}

function verifyItem(kind: ItemJob['kind'], header: BlockHeader, item: unknown): void {
  try {
    if (kind === 'bodies') verifyBody(header, item as BlockBodyBytes)
    else verifyReceipts(header, item as Uint8Array[])
  } catch (err) {
    if (!(err instanceof ChainError)) throw err
    throw kind === 'bodies' ? new BadBodiesError(err.message, { cause: err }) : new BadReceiptsError(err.message, { cause: err })
  }
}

function isPeerFault(err: unknown): err is SyncPeerError {
  return err instanceof SyncPeerError
}
