/**
 * Peer ids refused until a deadline: the bans of a server or of the peer
 * pool, and the redial backoff of the dial scheduler (a node whose dial
 * failed is "banned from dialing" for a while). Expired entries are dropped
 * as they are met, and whenever a new entry is added, so the map never
 * outgrows the ids refused right now.
 */
export class BanList {
  private readonly until = new Map<string, number>()

  /** Refuses `id` for `maxAgeMs` from now (a later call replaces the deadline). */
  ban(id: string, maxAgeMs: number): void {
    const now = Date.now()
    this.dropExpired(now)
    this.until.set(id, now + maxAgeMs)
  }

  isBanned(id: string): boolean {
    const t = this.until.get(id)
    if (t === undefined) return false
    if (t > Date.now()) return true
    this.until.delete(id)
    return false
  }

  /** The earliest deadline still ahead (ms since the epoch), or undefined when nothing is refused. */
  nextExpiry(): number | undefined {
    this.dropExpired(Date.now())
    let next: number | undefined
    for (const t of this.until.values()) if (next === undefined || t < next) next = t
    return next
  }

  clear(): void {
    this.until.clear()
  }

  private dropExpired(now: number): void {
    for (const [k, t] of this.until) if (t <= now) this.until.delete(k)
  }
}
