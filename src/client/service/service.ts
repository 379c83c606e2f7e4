import debug from 'debug'

import { PeerPool } from '../net/peerpool'

import type { Chain } from '../blockchain/chain'
import type { Config } from '../config'
import type { Protocol } from '../net/protocol/protocol'

const log = debug('client:service')

export interface ServiceOptions {
  config: Config
  chain: Chain
}

/**
 * A service is what the client does with its peers: it names the protocols
 * the server must offer and keeps the PeerPool. Lifecycle:
 * open() (chain and protocols ready, pool following the bus) -> start()
 * (handlers subscribed) -> stop() -> close(); each step is idempotent.
 */
export abstract class Service {
  readonly config: Config
  readonly chain: Chain
  readonly pool: PeerPool
  protected opened = false
  protected running = false

  constructor(opts: ServiceOptions) {
    this.config = opts.config
    this.chain = opts.chain
    this.pool = new PeerPool({ config: opts.config })
  }

  abstract get name(): string

  /** Protocols to offer under the configured server. */
  abstract get protocols(): Protocol[]

  async open(): Promise<void> {
    if (this.opened) return
    await this.chain.open()
    for (const p of this.protocols) await p.open()
    this.pool.open()
    this.opened = true
    log('%s opened', this.name)
  }

  async start(): Promise<void> {
    if (this.running) return
    if (!this.opened) await this.open()
    this.subscribe()
    this.running = true
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.unsubscribe()
    this.running = false
  }

  async close(): Promise<void> {
    await this.stop()
    if (!this.opened) return
    this.pool.close()
    this.opened = false
    log('%s closed', this.name)
  }

  get isRunning(): boolean {
    return this.running
  }

  protected abstract subscribe(): void
  protected abstract unsubscribe(): void
}
