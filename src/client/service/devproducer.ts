import { createAddressFromString } from '@ethereumjs/util'
import debug from 'debug'

import type { Chain } from '../blockchain/chain'
import type { BuiltBlock } from '../blockchain/builder'
import type { TxPool } from './txpool'

const log = debug('client:devproducer')

/** Fee recipient of produced blocks: a fixed address nobody holds a key to. */
export const DEV_COINBASE = '0x0000000000000000000000000000000000000de0'

/**
 * For test networks only: every `periodMs` builds a block on the head from the pool's best
 * transactions (executed by the VM as the chain executes any block; those it refuses stay
 * out) and appends it to the chain, which makes it the head; the node then announces it like
 * any other head. Its timestamp is the wall clock (at least one second past its parent), so
 * peers do not take the chain for a stale one. There is no consensus: a network of these
 * nodes should have one producer.
 */
export class DevBlockProducer {
  private readonly chain: Chain
  private readonly txPool: TxPool
  private readonly periodMs: number
  private readonly onError: (err: Error) => void
  private timer?: ReturnType<typeof setTimeout>
  private producing?: Promise<unknown>
  private running = false

  /** `onError` gets every failed attempt (the next one still follows a period later). */
  constructor(opts: { chain: Chain; txPool: TxPool; periodMs: number; onError: (err: Error) => void }) {
    this.chain = opts.chain
    this.txPool = opts.txPool
    this.periodMs = opts.periodMs
    this.onError = opts.onError
  }

  start(): void {
    if (this.running) return
    this.running = true
    log('producing a block every %d ms', this.periodMs)
    this.schedule()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    await this.producing
  }

  /** Builds and appends one block now; resolves with it once it is the head. */
  async produce(): Promise<BuiltBlock> {
    const txs = await this.txPool.pending()
    const parent = this.chain.headers.latest
    const now = BigInt(Math.floor(Date.now() / 1000))
    const timestamp = now > parent.timestamp ? now : parent.timestamp + 1n
    const built = await this.chain.buildBlock(txs, { timestamp, coinbase: createAddressFromString(DEV_COINBASE) })
    log('produced #%d with %d of %d pending transactions', built.block.header.number, built.included.length, txs.length)
    for (const s of built.skipped) log('left out %s: %s', Buffer.from(s.tx.hash()).toString('hex'), s.reason)
    return built
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.producing = this.produce()
        .catch((err: unknown) => this.onError(err as Error))
        .finally(() => this.schedule())
    }, this.periodMs)
  }
}
