import debug from 'debug'

import { describeError } from '../errors'
import { type BlockRange, usesBlockRange } from '../net/protocol/ethstatus'
import { servedBlockRange } from '../net/protocol/protocol'

import type { Chain } from '../blockchain/chain'
import type { Config } from '../config'
import type { PeerPool } from '../net/peerpool'

const log = debug('client:service:range')

export interface BlockRangeAnnouncerOptions {
  config: Config
  chain: Chain
  pool: PeerPool
}

/**
 * Tells eth/69+ peers when the blocks we serve change (BlockRangeUpdate,
 * 0x11), as geth does: once the head has advanced `blockRangeUpdateBlocks`
 * (32) blocks past the range announced last, or at once when it moved back
 * (a reorg to a shorter chain). Peers that connect in between learn the
 * current range from our Status. eth/66..68 peers get nothing from here.
 */
export class BlockRangeAnnouncer {
  private readonly config: Config
  private readonly chain: Chain
  private readonly pool: PeerPool
  private announced?: BlockRange
  private readonly onHead = () => this.headMoved()

  constructor(opts: BlockRangeAnnouncerOptions) {
    this.config = opts.config
    this.chain = opts.chain
    this.pool = opts.pool
  }

  /** Follows the chain's head from its current range on. Idempotent. */
  start(): void {
    if (this.announced !== undefined) return
    this.announced = servedBlockRange(this.chain)
    this.chain.events.on('head', this.onHead)
  }

  stop(): void {
    this.chain.events.off('head', this.onHead)
    this.announced = undefined
  }

  private headMoved(): void {
    const prev = this.announced
    if (prev === undefined) return
    const next = servedBlockRange(this.chain)
    const due = next.latestBlock < prev.latestBlock || next.latestBlock - prev.latestBlock >= BigInt(this.config.blockRangeUpdateBlocks)
    if (!due) return
    this.announced = next
    let sent = 0
    for (const peer of this.pool.peers) {
      const eth = peer.eth
      if (eth === undefined || eth.closed || !usesBlockRange(eth.version)) continue
      try {
        eth.send('BlockRangeUpdate', next)
        sent++
      } catch (err) {
        // A session that ends while we announce is reported by its own close.
        log('BlockRangeUpdate to %s not sent: %s', peer.toString(), describeError(err))
      }
    }
    log('announced blocks %d..%d to %d peers', next.earliestBlock, next.latestBlock, sent)
  }
}
