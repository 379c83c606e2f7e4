import debug from 'debug'

import { LruMap } from '../../p2p'
import { Event, type EventBus } from '../types'

import type { Peer } from './peer/peer'

const log = debug('client:reputation')

/**
 * What a peer did that moves its score. The weights (REPUTATION_WEIGHTS) and
 * the thresholds below are the whole policy; docs in the README's "Peer
 * reputation" table.
 */
export enum ReputationEvent {
  /** It answered a request of ours in time with a well-formed reply. */
  SERVED = 'served',
  /** A request of ours went unanswered for requestTimeoutMs. */
  TIMEOUT = 'timeout',
  /** It has nothing we can use: no shared head, or it cannot serve the head it announced. */
  USELESS = 'useless',
  /** Its data failed validation (a reply of the wrong kind or size, headers that do not chain). */
  INVALID_DATA = 'invalid_data',
  /** It broke the protocol (undecodable message, message it must not send): banned at once. */
  PROTOCOL_VIOLATION = 'protocol_violation',
}

/** Highest score: a long good record buys a little slack, never immunity (see INVALID_DATA). */
export const MAX_SCORE = 20
/** Lowest score: where a protocol violation puts a peer. */
export const MIN_SCORE = -100
/** At or below this the peer is disconnected, and refused until its score has decayed above it. */
export const DISCONNECT_THRESHOLD = -20
/** At or below this the peer is banned (PeerPool.ban). */
export const BAN_THRESHOLD = -50

/**
 * Score change per event. A fresh peer (0) is disconnected by its 4th timeout
 * in a row (4 × -6 = -24) and by its 2nd useless answer; one invalid reply
 * bans even a peer at MAX_SCORE (20 - 70 = -50). Served requests earn +1 each,
 * up to MAX_SCORE. Lodestar moves peers by -1/-5/-10 (high/mid/low tolerance)
 * with the same -20/-50 thresholds; reth penalises timeouts 4 units and bad
 * messages 16 with a ban at 50: the ratios here sit between the two.
 */
export const REPUTATION_WEIGHTS: Readonly<Record<ReputationEvent, number>> = Object.freeze({
  [ReputationEvent.SERVED]: 1,
  [ReputationEvent.TIMEOUT]: -6,
  [ReputationEvent.USELESS]: -10,
  [ReputationEvent.INVALID_DATA]: -70,
  [ReputationEvent.PROTOCOL_VIOLATION]: MIN_SCORE - MAX_SCORE,
})

/** Scores halve towards 0 in this time (Lodestar's half-life): a bad hour is forgotten within a few. */
export const DEFAULT_REPUTATION_HALF_LIFE_MS = 10 * 60_000
/**
 * Node ids whose score is remembered, least recently touched forgotten first: several times
 * maxPeers, so a peer that reconnects after a disconnect or a ban finds its record again.
 */
export const DEFAULT_REPUTATION_TABLE_SIZE = 1024

/** What reaching the score calls for. */
export type ReputationVerdict = 'keep' | 'disconnect' | 'ban'

/** One score change, as announced on the bus (Event.PEER_REPUTATION). */
export interface ReputationChange {
  event: ReputationEvent
  /** Score after the change (decay applied first). */
  score: number
  verdict: ReputationVerdict
}

export interface ReputationOptions {
  events: EventBus
  /** Positive integer (Config validates it); default DEFAULT_REPUTATION_HALF_LIFE_MS. */
  halfLifeMs?: number
  /** Positive integer; default DEFAULT_REPUTATION_TABLE_SIZE. */
  tableSize?: number
}

interface Entry {
  score: number
  /** Date.now() when `score` was last written. */
  at: number
}

/**
 * Peer scores by node id, decaying exponentially towards 0 with `halfLifeMs`.
 * The table is bounded (LRU) and outlives sessions, so a peer that reconnects
 * keeps its recent record. report() changes a score and announces it on the
 * bus; the PeerPool acts on the verdict (disconnect, ban). Time is Date.now(),
 * so tests drive decay with fake timers.
 */
export class Reputation {
  readonly halfLifeMs: number
  private readonly events: EventBus
  private readonly table: LruMap<string, Entry>

  constructor(opts: ReputationOptions) {
    this.events = opts.events
    this.halfLifeMs = opts.halfLifeMs ?? DEFAULT_REPUTATION_HALF_LIFE_MS
    this.table = new LruMap(opts.tableSize ?? DEFAULT_REPUTATION_TABLE_SIZE)
  }

  /** Current score of node `id` (0 if unknown). */
  score(id: string): number {
    const entry = this.table.get(id)
    return entry === undefined ? 0 : this.decayed(entry, Date.now())
  }

  /** Applies `event` to the peer's score and announces the change (Event.PEER_REPUTATION). */
  report(peer: Peer, event: ReputationEvent): ReputationChange {
    const now = Date.now()
    const entry = this.table.get(peer.id)
    const before = entry === undefined ? 0 : this.decayed(entry, now)
    const score = clamp(before + REPUTATION_WEIGHTS[event])
    this.table.set(peer.id, { score, at: now })
    const change: ReputationChange = { event, score, verdict: verdictOf(score) }
    if (change.verdict !== 'keep') log('%s: %s, score %s: %s', peer.toString(), event, score.toFixed(1), change.verdict)
    this.events.emit(Event.PEER_REPUTATION, peer, change)
    return change
  }

  /** Milliseconds until node `id`'s score decays above `threshold` (0 if it already is). */
  msUntilAbove(id: string, threshold = DISCONNECT_THRESHOLD): number {
    const s = this.score(id)
    if (s > threshold || threshold >= 0) return 0
    // s * 2^(-t/h) > threshold  <=>  t > h * log2(s / threshold); +1 ms lands strictly above.
    return Math.ceil(this.halfLifeMs * Math.log2(s / threshold)) + 1
  }

  clear(): void {
    this.table.clear()
  }

  private decayed(entry: Entry, now: number): number {
    const elapsed = now - entry.at
    return elapsed <= 0 ? entry.score : entry.score * 2 ** (-elapsed / this.halfLifeMs)
  }
}

/** What a score calls for. */
export function verdictOf(score: number): ReputationVerdict {
  if (score <= BAN_THRESHOLD) return 'ban'
  if (score <= DISCONNECT_THRESHOLD) return 'disconnect'
  return 'keep'
}

function clamp(score: number): number {
  return Math.max(MIN_SCORE, Math.min(MAX_SCORE, score))
}
