import debug from 'debug'

import { Chain } from './blockchain/chain'
import { DataDir } from './db/datadir'
import { ClientStateError, ConfigError } from './errors'
import { NodeMetrics } from './metrics/metrics'
import { MetricsServer } from './metrics/server'
import { RpcServer } from './rpc/server'
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
  /**
   * An existing chain to serve; default: the chain of `config.dataDir`, else a fresh in-memory
   * chain at genesis of `config.common`. Not with a dataDir (its chain is the one stored there).
   */
  chain?: Chain
  /** Peer preference of the synchronizer (default: reputation first, then the highest claimed head). */
  rankPeers?: RankPeers
}

/** created -> opened -> started -> stopped (final). */
export type ClientState = 'created' | 'opened' | 'started' | 'stopping' | 'stopped'

/**
 * The client: one Chain, one FullEthereumService (with its PeerPool), the
 * Synchronizer that keeps the chain at its peers' best head (when `config.sync`),
 * the server `config.server` selects, and the metrics and RPC endpoints when
 * configured. Every head move of the chain is CHAIN_UPDATED on the bus.
 * `stop()` is idempotent and releases every socket, timer and listener the
 * client created.
 */
export class EthereumClient {
  readonly config: Config
  readonly chain: Chain
  readonly service: FullEthereumService
  readonly synchronizer: Synchronizer
  /** The open dataDir (config.dataDir), holding its lock until stop(). */
  readonly dataDir: DataDir | undefined
  /** Prometheus metrics and their HTTP listener, when `config.metricsPort` is set. */
  readonly metrics?: { registry: NodeMetrics; server: MetricsServer }
  /** The JSON-RPC endpoint, when `config.rpcPort` is set. */
  readonly rpc?: RpcServer
  private lifecycle: ClientState = 'created'
  private stopping?: Promise<void>

  private readonly onChainUpdated = (update: ChainUpdate): void => {
    const head = update.head
    this.config.events.emit(Event.CHAIN_UPDATED, { height: head.height, hash: head.latest.hash(), reorged: update.removed.length })
  }

  /** The chain could not write its dataDir: the node stops, the disk keeping the head written last. */
  private readonly onChainFailed = (err: Error): void => {
    log('chain failed, stopping: %s', err.message)
    this.config.events.emit(Event.CHAIN_FAILED, err)
    // The dataDir's other writes (the node table) may fail the same way: stopping goes on regardless.
    this.stop().catch((e: unknown) => log('stopping after the chain failed: %s', (e as Error).message))
  }

  private constructor(config: Config, chain: Chain, dataDir: DataDir | undefined, rankPeers: RankPeers | undefined) {
    this.config = config
    this.chain = chain
    this.dataDir = dataDir
    this.service = new FullEthereumService({ config, chain })
    this.synchronizer = new Synchronizer({ config, chain, pool: this.service.pool, knowledge: this.service.knowledge, rankPeers })
    chain.events.on('updated', this.onChainUpdated)
    chain.events.on('failed', this.onChainFailed)
    // eth_syncing and the sync metrics ask the synchronizer.
    const sync = () => this.synchronizer
    if (config.tally !== undefined && config.metricsPort !== undefined) {
      const registry = new NodeMetrics({ client: this, tally: config.tally, sync })
      this.metrics = { registry, server: new MetricsServer({ metrics: registry, host: config.metricsAddress, port: config.metricsPort }) }
    }
    if (config.rpcPort !== undefined) {
      this.rpc = new RpcServer({
        client: this,
        host: config.rpcAddress,
        port: config.rpcPort,
        maxBodyBytes: config.rpcMaxBodyBytes,
        maxBatchSize: config.rpcMaxBatchSize,
        readTimeoutMs: config.rpcReadTimeoutMs,
        sync,
      })
    }
  }

  /**
   * Creates the client; with `config.dataDir`, opens it first and runs the chain stored there
   * (ConfigError if another process has it, StorageError if it cannot be read or written).
   */
  static async create(opts: EthereumClientOptions): Promise<EthereumClient> {
    const { config } = opts
    if (config.dataDir !== undefined && opts.chain !== undefined) {
      throw new ConfigError('dataDir', `a client on dataDir ${config.dataDir} runs the chain stored there; pass no chain`)
    }
    const dataDir = config.dataDir === undefined ? undefined : await DataDir.open(config.dataDir, { common: config.common, stateHistory: config.stateHistory })
    try {
      const chain = opts.chain ?? (await Chain.create({ common: config.common, store: dataDir?.chain }))
      return new EthereumClient(config, chain, dataDir, opts.rankPeers)
    } catch (err) {
      await dataDir?.close()
      throw err
    }
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
    this.dataDir?.attach(this.config, server)
    this.metrics?.registry.attach()
    this.lifecycle = 'opened'
    log('opened (chain height %d)', this.chain.headers.height)
  }

  /**
   * Starts serving, the server (listen, discovery, bootstrap), the metrics and RPC
   * endpoints, then the synchronizer (with `config.sync`). Opens first if needed.
   */
  async start(): Promise<void> {
    if (this.lifecycle === 'started') return
    if (this.lifecycle === 'created') await this.open()
    if (this.lifecycle !== 'opened') throw new ClientStateError(`start() on a ${this.lifecycle} client`)
    await this.service.start()
    try {
      await this.config.server.start()
      await this.metrics?.server.start()
      await this.rpc?.start()
    } catch (err) {
      await this.stopEndpoints()
      await this.config.server.stop()
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
    await this.stopEndpoints()
    this.metrics?.registry.detach()
    if (wasOpen) await this.config.server.stop()
    await this.service.close()
    this.chain.events.off('updated', this.onChainUpdated)
    this.chain.events.off('failed', this.onChainFailed)
    await this.chain.close()
    try {
      // Rejects when the node table's last writes failed; the database is closed either way.
      await this.dataDir?.close()
    } finally {
      this.lifecycle = 'stopped'
      log('stopped')
      this.config.events.emit(Event.CLIENT_SHUTDOWN)
    }
  }

  private async stopEndpoints(): Promise<void> {
    await this.rpc?.stop()
    await this.metrics?.server.stop()
  }
}
