import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { Common } from '../../../chain-config'
import { EthereumClient } from '../../client'
import { Config, DEFAULT_CHAIN_ID, DEFAULT_CHAIN_NAME } from '../../config'
import { Event } from '../../types'

import { NetworkScriptError } from './errors'
import { withTimeout, type WaitOptions } from './waits'

import type { Block } from '@ethereumjs/block'
import type { Peer } from '../../net/peer/peer'
import type { AnyServer } from '../../net/server'

/** Every node binds and advertises loopback: the network never leaves this machine. */
export const LOOPBACK = '127.0.0.1'

export interface NodeSpec {
  /** 0-based; node 0 is the bootnode. */
  index: number
  port: number
  discPort: number
  bootnodes: string[]
  useP2PServer: boolean
  maxPeers: number
  discoveryRefreshMs: number
  /** eth versions offered (Config.ethVersions). */
  ethVersions: number[]
  /** Serve Prometheus metrics on a free loopback port. */
  metrics?: boolean
  /** Headers, bodies and receipts per sync request. */
  batch: number
  /** Seconds between produced blocks; 0: the node produces none. */
  devPeriod: number
}

/** Blocks (and their receipts) a node starts with. */
export interface ChainData {
  blocks: Block[]
  receipts: Uint8Array[][]
}

/**
 * One client of the local network, created the way the README's usage
 * does it (Config -> EthereumClient.create -> open -> start), bound to
 * loopback. Node 1 (`index` 0) is the bootnode.
 */
export class TestNode {
  readonly index: number
  readonly label: string
  readonly config: Config
  readonly client: EthereumClient
  /** Our node id, 128 hex characters (as Peer.id on the other nodes). */
  readonly id: string
  private listeningUrl?: string

  private constructor(spec: NodeSpec, config: Config, client: EthereumClient) {
    this.index = spec.index
    this.label = nodeLabel(spec.index)
    this.config = config
    this.client = client
    this.id = bytesToUnprefixedHex(config.nodeId)
  }

  static async create(spec: NodeSpec): Promise<TestNode> {
    const common = Common.custom({ chainId: DEFAULT_CHAIN_ID, name: DEFAULT_CHAIN_NAME })
    const config = new Config({
      common,
      useP2PServer: spec.useP2PServer,
      port: spec.port,
      discPort: spec.discPort,
      bindAddress: LOOPBACK,
      extIP: LOOPBACK,
      maxPeers: spec.maxPeers,
      bootnodes: spec.bootnodes,
      discoveryRefreshMs: spec.discoveryRefreshMs,
      ethVersions: spec.ethVersions,
      metricsPort: spec.metrics === true ? 0 : undefined,
      syncHeaderBatch: spec.batch,
      syncBodyBatch: spec.batch,
      syncReceiptBatch: spec.batch,
      devPeriod: spec.devPeriod,
    })
    const client = await EthereumClient.create({ config })
    return new TestNode(spec, config, client)
  }

  get isBootnode(): boolean {
    return this.index === 0
  }

  /** The enode URL the server announced on SERVER_LISTENING. */
  get url(): string {
    if (this.listeningUrl === undefined) throw new NetworkScriptError('ERR_NETWORK_STATE', `${this.label} is not listening`)
    return this.listeningUrl
  }

  /** The client's server (RlpxServer or P2PServer, as `useP2PServer` selects). */
  get server(): AnyServer {
    return this.config.server
  }

  /** `http://127.0.0.1:port/metrics` while started with metrics on. */
  get metricsUrl(): string | undefined {
    const m = this.client.metrics
    return m === undefined || this.client.state !== 'started' ? undefined : m.server.url
  }

  get listening(): boolean {
    return this.listeningUrl !== undefined
  }

  /** Connected peers (Status done) as the service's pool holds them. */
  get peers(): Peer[] {
    return this.client.service.pool.peers
  }

  get head(): { height: bigint; hash: string } {
    const latest = this.client.chain.headers.latest
    return { height: latest.number, hash: bytesToUnprefixedHex(latest.hash()) }
  }

  /** Transactions in the node's pool. */
  get poolSize(): number {
    return this.client.service.txPool.size
  }

  /** Appends blocks (with receipts) before the node starts serving them. */
  async seed(data: ChainData): Promise<number> {
    return this.client.chain.putBlocks(data.blocks, data.receipts)
  }

  /**
   * open() + start(); resolves with the enode URL of Event.SERVER_LISTENING.
   * The listener is attached before start() since the server emits it from there.
   */
  async start(wait: Omit<WaitOptions, 'what'>): Promise<string> {
    const onListening = (d: { transport: 'rlpx' | 'p2p'; url: string }): void => {
      this.listeningUrl = d.url
    }
    this.config.events.on(Event.SERVER_LISTENING, onListening)
    try {
      await withTimeout(this.client.open(), { ...wait, what: `${this.label} to open` })
      await withTimeout(this.client.start(), { ...wait, what: `${this.label} to start` })
    } finally {
      this.config.events.off(Event.SERVER_LISTENING, onListening)
    }
    if (this.listeningUrl === undefined) {
      throw new NetworkScriptError('ERR_NETWORK_NOT_LISTENING', `${this.label} started without emitting ${Event.SERVER_LISTENING}`)
    }
    return this.listeningUrl
  }

  /** Stops the client (server, service, chain); idempotent. */
  async stop(): Promise<void> {
    await this.client.stop()
  }
}

/** node1, node2, ...: the numbering of the command line (node 1 is the bootnode). */
export function nodeLabel(index: number): string {
  return `node${index + 1}`
}
