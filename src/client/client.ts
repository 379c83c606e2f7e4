import debug from 'debug'

import { Chain } from './blockchain/chain'
import { ClientStateError } from './errors'
import { FullEthereumService } from './service/fullethereumservice'
import { Synchronizer } from './sync/synchronizer'
import { Event } from './types'

import type { ChainUpdate } from './blockchain/chain'
import type { Config } from './config'
import type { AnyServer } from './net/server'
import type { RankPeers } from './sync/peerhead'

const log = debug('client')

export interface EthereumClientOptions {
  config: Config
  /** An existing chain to serve; default: a fresh in-memory chain at genesis of `config.common`. */
  chain?: Chain
  /** Peer preference of the synchronizer (default: highest claimed head first). */
  rankPeers?: RankPeers
}

/** created -> opened -> started -> stopped (final). */
export type ClientState = 'created' | 'opened' | 'started' | 'stopping' | 'stopped'

/**
 * The client: one Chain, one FullEthereumService (with its PeerPool), the
 * Synchronizer that keeps the chain at its peers' best head (when `config.sync`),
 * and the server `config.server` selects. Every head move of the chain is
 * CHAIN_UPDATED on the bus. `stop()` is idempotent and releases every socket,
 * timer and listener the client created.
 */
export class EthereumClient {
  readonly config: Config
  readonly chain: Chain
  readonly service: FullEthereumService
  readonly synchronizer: Synchronizer
  private lifecycle: ClientState = 'created'
  private stopping?: Promise<void>

  private readonly onChainUpdated = (update: ChainUpdate): void => {
    const head = update.head
    this.config.events.emit(Event.CHAIN_UPDATED, { height: head.height, hash: head.latest.hash(), reorged: update.removed.length })
  }

  private constructor(config: Config, chain: Chain, rankPeers: RankPeers | undefined) {
    this.config = config
    this.chain = chain
    this.service = new FullEthereumService({ config, chain })
    this.synchronizer = new Synchronizer({ config, chain, pool: this.service.pool, knowledge: this.service.knowledge, rankPeers })
    chain.events.on('updated', this.onChainUpdated)
  }

  static async create(opts: EthereumClientOptions): Promise<EthereumClient> {
    const chain = opts.chain ?? (await Chain.create({ common: opts.config.common }))
    return new EthereumClient(opts.config, chain, opts.rankPeers)
  }

  get state(): ClientState {
    return this.lifecycle
  }

  get server(): AnyServer {
    return this.config.server
  }

  /** Opens the chain and service and registers the service's protocols with the server. Idempotent. */
  async open(): Promise<void> {
    if (this.lifecycle !== 'created') {
      if (this.lifecycle === 'opened' || this.lifecycle === 'started') return
      throw new ClientStateError(`open() on a ${this.lifecycle} client`)
    }
    const server = this.config.server
    await this.service.open()
    server.addProtocols(this.service.protocols)
    this.lifecycle = 'opened'
    log('opened (chain height %d)', this.chain.headers.height)
  }

  /** Starts serving and the server (listen, discovery, bootstrap). Opens first if needed. */
  async start(): Promise<void> {
    if (this.lifecycle === 'started') return
    if (this.lifecycle === 'created') await this.open()
    if (this.lifecycle !== 'opened') throw new ClientStateError(`start() on a ${this.lifecycle} client`)
    await this.service.start()
    try {
      await this.config.server.start()
    } catch (err) {
      await this.service.stop()
      throw err
    }
    if (this.config.sync) this.synchronizer.start()
    this.lifecycle = 'started'
    log('started: %s', this.config.server.url)
  }

  /** Stops the server, service and chain, then emits CLIENT_SHUTDOWN. Idempotent; the client cannot restart. */
  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped') return
    this.stopping ??= this.shutdown()
    await this.stopping
  }

  private async shutdown(): Promise<void> {
    const wasOpen = this.lifecycle !== 'created'
    this.lifecycle = 'stopping'
    await this.synchronizer.stop()
    if (wasOpen) await this.config.server.stop()
    await this.service.close()
    this.chain.events.off('updated', this.onChainUpdated)
    await this.chain.close()
    this.lifecycle = 'stopped'
    log('stopped')
    this.config.events.emit(Event.CLIENT_SHUTDOWN)
  }
}
