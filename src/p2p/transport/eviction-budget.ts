/**
 * The listener's inbound rate limit: how many pending handshakes a burst of new
 * sockets may evict, oldest first, within a sliding window.
 *
 * Without it, 'drop-oldest' lets any burst of `maxPendingHandshakes` sockets
 * flush every handshake in flight, honest ones included: each new socket evicts
 * the oldest pending one, so a peer whose auth is a few milliseconds away is
 * cut by the 64th junk socket arriving after it. With the budget spent, the
 * listener stops touching the older slots; further new sockets only take the
 * newest slot (see TransportListener), so a burst churns among itself.
 */

/**
 * Oldest-first evictions allowed per window: one full turnover of the default
 * pending table (DEFAULT_MAX_PENDING_HANDSHAKES), enough to clear a table held
 * by stallers in one go, not enough for one burst to flush it twice.
 */
export const DEFAULT_MAX_EVICTIONS_PER_WINDOW = 64

/**
 * Length of the sliding window. An honest handshake is a few round trips
 * (well under a second, even intercontinental), so a handshake that survived
 * one window of evictions has had the time it needs; stallers are then old
 * again and the next window may evict them.
 */
export const DEFAULT_EVICTION_WINDOW_MS = 1_000

/** A sliding-window counter of evictions. `now` is injectable for tests. */
export class EvictionBudget {
  /** Times of the evictions still inside the window, oldest first; never longer than `max`. */
  private readonly times: number[] = []

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Evictions still allowed in the current window. */
  get remaining(): number {
    if (this.max === Infinity) return Infinity
    this.prune(this.now())
    return this.max - this.times.length
  }

  /** Spends one eviction if the window allows it; false means the budget is spent. */
  take(): boolean {
    if (this.max === Infinity) return true // unlimited: nothing to remember
    const now = this.now()
    this.prune(now)
    if (this.times.length >= this.max) return false
    this.times.push(now)
    return true
  }

  private prune(now: number): void {
    let expired = 0
    while (expired < this.times.length && now - this.times[expired]! >= this.windowMs) expired++
    if (expired > 0) this.times.splice(0, expired)
  }
}
