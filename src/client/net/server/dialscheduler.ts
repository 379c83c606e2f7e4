import { compareBytes, equalsBytes } from '@ethereumjs/util'
import debug from 'debug'

import { peerIdHex } from '../peer/peer'
import { BanList } from '../banlist'

import type { PeerInfo } from '@ethereumjs/devp2p'

const log = debug('client:dial')

/**
 * Nodes remembered for later dialing, per peer slot, while every slot is
 * taken. Twice the slots: enough to refill after churn without dialing
 * stale entries from long ago.
 */
export const CANDIDATES_PER_SLOT = 2

/** A node to dial, as the servers need it. */
export interface DialTarget {
  /** Node id as 128 hex characters. */
  id: string
  /** Node id as bytes (the ECIES handshake authenticates it). */
  remoteId: Uint8Array
  host: string
  port: number
}

/** The dialable part of a discovery record, or undefined when it has no id, address or TCP port. */
export function dialTarget(info: PeerInfo): DialTarget | undefined {
  const { id, address, tcpPort } = info
  if (id === undefined || address === undefined || tcpPort === undefined || tcpPort === null || tcpPort === 0) return undefined
  return { id: peerIdHex(id), remoteId: id, host: address, port: tcpPort }
}

export interface DialSchedulerOptions {
  localId: Uint8Array
  /** Most candidates kept while every slot is taken. */
  maxCandidates: () => number
  /**
   * Lower id dials first: a discovered node whose id is below ours is dialed
   * only after this long (it is expected to dial us first). 0: dial at once.
   */
  yieldToLowerIdMs: number
  /**
   * The same rule for nodes dialed from the discovery table to fill a freed slot: both ends of
   * a lost connection free their slot at the same moment, so without it they would redial
   * each other at once and the tie-break would close one of the two new connections.
   */
  reconnectYieldMs: number
  /** How long a node whose dial failed is not dialed again (config.redialBackoffMs). */
  redialBackoffMs: number
  /** Most dials in progress at once (config.maxConcurrentDials); more wait in the queue. */
  maxConcurrentDials: number
  /** Dials in progress now; the server calls refill() when one ends, however it ends. */
  dialsInProgress: () => number
  /** Whether `id` may be dialed at all now: server started, not banned, no session or dial with it. */
  eligible: (id: string) => boolean
  hasFreeSlot: () => boolean
  /**
   * Every node discovery knows (its table). Discovery reports a node once, when it enters the
   * table; a node whose session later ended is dialed again from here when a slot frees up.
   */
  known: () => readonly PeerInfo[]
  /** Starts the dial; the server reports a failure back through dialFailed(). */
  dial: (target: DialTarget) => void
}

/**
 * When to dial whom, for both servers: nodes offered by discovery or the
 * bootnode list are dialed at once if a slot is free, queued otherwise (and
 * dialed by refill() when a slot frees up), postponed by the lower-id-first
 * rule, or skipped while they are in their redial backoff. A slot that frees
 * up with nothing queued goes to a node of the discovery table we hold no
 * session with (a lost connection is re-established this way). How a dial is
 * carried out, and who may be dialed at all, is the server's business.
 */
export class DialScheduler {
  /** Dials started since creation. */
  attempts = 0
  private readonly opts: DialSchedulerOptions
  private candidates: DialTarget[] = []
  private readonly backoff = new BanList()
  private readonly yielding = new Map<string, NodeJS.Timeout>()
  /** Fires when the earliest redial backoff ends, to refill (see dialFailed). */
  private retryTimer?: NodeJS.Timeout

  constructor(opts: DialSchedulerOptions) {
    this.opts = opts
  }

  /** Nodes waiting for a free slot. */
  get queued(): number {
    return this.candidates.length
  }

  /**
   * A node to connect to. `fromDiscovery`: discovery is mutual, so both ends
   * learn of each other at about the same time; the lower-id rule keeps them
   * from dialing each other at once.
   */
  offer(info: PeerInfo, fromDiscovery: boolean): void {
    const target = dialTarget(info)
    if (target === undefined || equalsBytes(target.remoteId, this.opts.localId)) return
    const yieldMs = this.opts.yieldToLowerIdMs
    if (fromDiscovery && yieldMs > 0 && compareBytes(this.opts.localId, target.remoteId) > 0) {
      this.yieldTo(target, yieldMs)
      return
    }
    this.dialOrQueue(target)
  }

  /**
   * The dial of `id` failed: leave it alone for the backoff period, then try
   * the known nodes again. Discovery reports a node once, and nothing else may
   * free a slot in the meantime: without the retry, two nodes whose dials to
   * each other both failed (say both were full at that moment) would never
   * dial each other again.
   */
  dialFailed(id: string): void {
    this.backoff.ban(id, this.opts.redialBackoffMs)
    this.scheduleRetry()
  }

  /** Dials queued nodes into free slots, oldest first, then known nodes without a session. */
  refill(): void {
    while (this.candidates.length > 0 && this.canDial()) this.dialOrQueue(this.candidates.shift() as DialTarget)
    for (const info of this.opts.known()) {
      if (!this.canDial()) return
      const target = dialTarget(info)
      if (target === undefined || equalsBytes(target.remoteId, this.opts.localId) || this.yielding.has(target.id)) continue
      if (!this.opts.eligible(target.id) || this.backoff.isBanned(target.id)) continue
      if (this.opts.reconnectYieldMs > 0 && compareBytes(this.opts.localId, target.remoteId) > 0) this.yieldTo(target, this.opts.reconnectYieldMs)
      else this.dial(target)
    }
  }

  /** Drops `id` from the queue and cancels its postponed dial (it was banned). */
  forget(id: string): void {
    this.candidates = this.candidates.filter((c) => c.id !== id)
    clearTimeout(this.yielding.get(id))
    this.yielding.delete(id)
  }

  /** Forgets every queued node, postponed dial and backoff (the server stops). */
  clear(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    for (const timer of this.yielding.values()) clearTimeout(timer)
    this.yielding.clear()
    this.candidates = []
    this.backoff.clear()
  }

  /** A peer slot is free and fewer than maxConcurrentDials dials are in progress. */
  private canDial(): boolean {
    return this.opts.hasFreeSlot() && this.opts.dialsInProgress() < this.opts.maxConcurrentDials
  }

  private dialOrQueue(target: DialTarget): void {
    if (!this.opts.eligible(target.id) || this.backoff.isBanned(target.id)) return
    if (!this.canDial()) {
      this.enqueue(target)
      return
    }
    this.dial(target)
  }

  private dial(target: DialTarget): void {
    this.attempts++
    log('dialing %s at %s:%d', target.id.slice(0, 8), target.host, target.port)
    this.opts.dial(target)
  }

  private enqueue(target: DialTarget): void {
    if (this.candidates.some((c) => c.id === target.id)) return
    if (this.candidates.length < this.opts.maxCandidates()) this.candidates.push(target)
  }

  /** One timer, at the earliest backoff deadline; it refills, then re-arms for the next one. */
  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return
    const next = this.backoff.nextExpiry()
    if (next === undefined) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.refill()
      this.scheduleRetry()
    }, Math.max(0, next - Date.now()) + 1)
  }

  private yieldTo(target: DialTarget, ms: number): void {
    if (this.yielding.has(target.id)) return
    const timer = setTimeout(() => {
      this.yielding.delete(target.id)
      this.dialOrQueue(target)
    }, ms)
    this.yielding.set(target.id, timer)
  }
}
