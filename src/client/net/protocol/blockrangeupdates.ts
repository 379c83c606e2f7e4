import { MessageFloodError } from './errors'
import { type BlockRange, checkBlockRange } from './ethstatus'

/** The window `maxPerMinute` counts BlockRangeUpdates in. */
export const BLOCK_RANGE_UPDATE_WINDOW_MS = 60_000

/**
 * The BlockRangeUpdates (eth/69+) one session receives: each must be a valid
 * range (checkBlockRange), and at most `maxPerMinute` may arrive per
 * BLOCK_RANGE_UPDATE_WINDOW_MS. Senders announce every 32 blocks or so
 * (geth), so a flood is not a busy peer but one that makes us decode and
 * route messages for nothing; it ends as a protocol error, not a queue.
 */
export class BlockRangeUpdates {
  private readonly maxPerMinute: number
  private readonly now: () => number
  private windowStart = Number.NEGATIVE_INFINITY
  private count = 0

  constructor(maxPerMinute: number, now: () => number = Date.now) {
    this.maxPerMinute = maxPerMinute
    this.now = now
  }

  /** Checks one update; throws InvalidBlockRangeError or MessageFloodError. */
  accept(range: BlockRange): void {
    checkBlockRange(range, 'BlockRangeUpdate')
    const t = this.now()
    if (t - this.windowStart >= BLOCK_RANGE_UPDATE_WINDOW_MS) {
      this.windowStart = t
      this.count = 0
    }
    if (++this.count > this.maxPerMinute) throw new MessageFloodError('BlockRangeUpdate', this.maxPerMinute, BLOCK_RANGE_UPDATE_WINDOW_MS)
  }
}
