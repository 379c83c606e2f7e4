import type { Common } from '@ethereumjs/common'

import { Common as ChainCommon } from '../chain-config'
import { nodeIdFromPrivateKey } from '../p2p'

import { checkBool, checkDataDir, checkEthVersions, checkInt, checkIPv4, checkKey, checkMaxServeItems, checkPort, checkSeconds, parseBootnode } from './configchecks'
import {
  DEFAULT_BAN_TIME_MS,
  DEFAULT_BIND_ADDRESS,
  DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS,
  DEFAULT_CHAIN_ID,
  DEFAULT_CHAIN_NAME,
  DEFAULT_DIAL_BACKOFF_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_DISCOVERY_REFRESH_MS,
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  DEFAULT_ETH_VERSIONS,
  DEFAULT_EXT_IP,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE,
  DEFAULT_MAX_CONCURRENT_DIALS,
  DEFAULT_MAX_KNOWN_BLOCKS,
  DEFAULT_MAX_KNOWN_TXS,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_QUEUED_REQUESTS,
  DEFAULT_MAX_RECEIPT_CONTINUATIONS,
  DEFAULT_MAX_SERVE_ITEMS,
  DEFAULT_OPERATOR_ADDRESS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_REDIAL_BACKOFF_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RESPONSE_SOFT_LIMIT,
  DEFAULT_RPC_MAX_BATCH_SIZE,
  DEFAULT_RPC_MAX_BODY_BYTES,
  DEFAULT_RPC_READ_TIMEOUT_MS,
  DEFAULT_SERVE_CONCURRENCY,
  DEFAULT_STATUS_TIMEOUT_MS,
  DEFAULT_SYNC_BODY_BATCH,
  DEFAULT_SYNC_HEADER_BATCH,
  DEFAULT_SYNC_MAX_BLOCKS_AHEAD,
  DEFAULT_SYNC_MAX_FORK_DEPTH,
  DEFAULT_SYNC_RECEIPT_BATCH,
  DEFAULT_SYNC_REQUESTS_PER_PEER,
  DEFAULT_TX_ANNOUNCEMENTS_PER_PEER,
  DEFAULT_TX_FETCH_BATCH,
  DEFAULT_TX_FETCH_TIMEOUT_MS,
  DEFAULT_TX_POOL_MAX_SIZE,
  MAX_DEV_PERIOD_S,
} from './configdefaults'
import { loadOrCreateNodeKey } from './db/nodekey'
import { DEFAULT_STATE_HISTORY } from './db/statestore'
import { MessageTally } from './metrics/tally'
import { type EthVersion, MAX_HASHES_PER_REQUEST, MAX_HEADERS_PER_REQUEST } from './net/protocol/ethmessages'
import { type MessageMeter, NO_METER } from './net/protocol/meter'
import { DEFAULT_REPUTATION_HALF_LIFE_MS, DEFAULT_REPUTATION_TABLE_SIZE, Reputation } from './net/reputation'
import { createServer } from './net/server'
import { EventBus } from './types'

import type { AnyServer } from './net/server'
import type { Enode } from './net/server/enode'

// Every default, with why it is what it is, lives in configdefaults.ts; the validators in configchecks.ts.
export * from './configdefaults'

export interface ConfigOptions {
  /** Chain rules and genesis. Default: Common.custom({ chainId: 1234, name: 'testnet' }). */
  common?: Common
  /** Use the modular P2P stack instead of legacy RLPx. Default false. */
  useP2PServer?: boolean
  /** TCP listen port; 0 picks a free one. Default 30303. */
  port?: number
  /** UDP discovery port; 0 picks a free one. Default: same as `port`. */
  discPort?: number
  /** Local address to bind TCP and UDP on. Default '0.0.0.0'. */
  bindAddress?: string
  /** IPv4 address other nodes reach us at (enode URL, discovery endpoint). Default '127.0.0.1'. */
  extIP?: string
  /** 32-byte secp256k1 private key (node identity). Default: `<dataDir>/nodekey` (created on first start), else random. */
  key?: Uint8Array
  /**
   * Directory of the node's persistent data: its database (`chaindata/`: chain, state, nodes
   * seen) and its key (`nodekey`). One process per dataDir. Default: none, everything in memory.
   */
  dataDir?: string
  /**
   * With a dataDir: the blocks below the head whose state is kept (older states are pruned,
   * and a fork from below them is not followed). Default DEFAULT_STATE_HISTORY (128).
   */
  stateHistory?: number
  /** Enode URLs to bootstrap discovery from. Default none. */
  bootnodes?: string[]
  /** Maximum connected peers, at least 1. Default 25. */
  maxPeers?: number
  /** Run discv4 discovery (DPT). Default true. */
  discV4?: boolean
  /** Time a peer has to answer one ETH request. Default DEFAULT_REQUEST_TIMEOUT_MS (8 s). */
  requestTimeoutMs?: number
  /** Time a peer has to send its Status after ours. Default DEFAULT_STATUS_TIMEOUT_MS (10 s). */
  statusTimeoutMs?: number
  /** Connection setup before it is dropped (ECIES + Hello / muxer). Default DEFAULT_HANDSHAKE_TIMEOUT_MS (10 s). */
  handshakeTimeoutMs?: number
  /** TCP connect of a dial. Default DEFAULT_DIAL_TIMEOUT_MS (10 s). */
  dialTimeoutMs?: number
  /** devp2p keep-alive Ping timeout. Default DEFAULT_PING_TIMEOUT_MS (10 s). */
  pingTimeoutMs?: number
  /** How long the higher id of two nodes about to dial each other waits. Default DEFAULT_DIAL_BACKOFF_MS (3 s); 0 = never wait. */
  dialBackoffMs?: number
  /** How long a node whose dial failed is not dialed again. Default DEFAULT_REDIAL_BACKOFF_MS (30 s); 0 = no backoff. */
  redialBackoffMs?: number
  /** Dials in progress at once; more wait their turn. Default DEFAULT_MAX_CONCURRENT_DIALS (8). */
  maxConcurrentDials?: number
  /** discv4 ping timeout. Default DEFAULT_DISCOVERY_TIMEOUT_MS (4 s). */
  discoveryTimeoutMs?: number
  /** Discovery table refresh period, at least 10 ms. Default DEFAULT_DISCOVERY_REFRESH_MS (60 s). */
  discoveryRefreshMs?: number
  /** Largest ETH message accepted or sent. Default DEFAULT_MAX_MESSAGE_SIZE (10 MiB). */
  maxMessageSize?: number
  /** How long a banned peer is refused. Default DEFAULT_BAN_TIME_MS (5 min). */
  banTimeMs?: number
  /**
   * Most items in one reply (headers, bodies, receipts, pooled transactions, node data), in
   * 1..MAX_SERVE_ITEMS (1024, geth's fixed serve limits; node data stays capped at geth's 384).
   * A request for more is answered with this many. Default DEFAULT_MAX_SERVE_ITEMS (1024).
   */
  maxServeItems?: number
  /** A reply stops growing once it reaches this many bytes. Default DEFAULT_RESPONSE_SOFT_LIMIT (2 MiB). */
  responseSoftLimit?: number
  /** Requests served at once across all peers (each peer one at a time). Default DEFAULT_SERVE_CONCURRENCY (4). */
  serveConcurrency?: number
  /** Requests one peer may have waiting to be served; one more bans it. Default DEFAULT_MAX_QUEUED_REQUESTS (256). */
  maxQueuedRequests?: number
  /** Transactions kept in the in-memory pool. Default DEFAULT_TX_POOL_MAX_SIZE (4096). */
  txPoolMaxSize?: number
  /**
   * eth versions offered, on either path (RLPx capabilities, `/eth/N/1.0.0` stream ids);
   * a peer gets the highest both sides offer. Any of 70, 69, 68, 67, 66, each at most once.
   * Default DEFAULT_ETH_VERSIONS (70, 69, 68, 67, 66).
   */
  ethVersions?: readonly number[]
  /** Least time between two BlockRangeUpdates we send (eth/69+). Default DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS (1 s). */
  blockRangeUpdateIntervalMs?: number
  /** BlockRangeUpdates a peer may send per minute before it is a flood. Default DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE (120). */
  maxBlockRangeUpdatesPerMinute?: number
  /** Follow-up requests for one block's receipts on eth/70 before the peer is a liar. Default DEFAULT_MAX_RECEIPT_CONTINUATIONS (16). */
  maxReceiptContinuations?: number
  /** Serve Prometheus metrics on this TCP port (0 = a free one). Default: no metrics. */
  metricsPort?: number
  /** Address of the metrics listener. Default DEFAULT_OPERATOR_ADDRESS (127.0.0.1). */
  metricsAddress?: string
  /** Serve JSON-RPC 2.0 over HTTP on this TCP port (0 = a free one). Default: no RPC. */
  rpcPort?: number
  /** Address of the JSON-RPC listener. Default DEFAULT_OPERATOR_ADDRESS (127.0.0.1). */
  rpcAddress?: string
  /** Largest JSON-RPC request body; a larger one is refused (413). Default DEFAULT_RPC_MAX_BODY_BYTES (5 MiB). */
  rpcMaxBodyBytes?: number
  /** Most calls in one JSON-RPC batch; a larger batch is refused. Default DEFAULT_RPC_MAX_BATCH_SIZE (1000). */
  rpcMaxBatchSize?: number
  /** Time to receive a whole JSON-RPC request. Default DEFAULT_RPC_READ_TIMEOUT_MS (30 s). */
  rpcReadTimeoutMs?: number
  /** Peer scores halve towards 0 in this time. Default DEFAULT_REPUTATION_HALF_LIFE_MS (10 min). */
  reputationHalfLifeMs?: number
  /** Node ids whose score is remembered (LRU). Default DEFAULT_REPUTATION_TABLE_SIZE (1024). */
  reputationTableSize?: number
  /** Sync the chain from peers and follow their heads (client.synchronizer). Default true. */
  sync?: boolean
  /** Produce a block every this many seconds from the pool (test networks only); 0 = off. Default 0. */
  devPeriod?: number
  /** Headers per sync request and skeleton span. Default DEFAULT_SYNC_HEADER_BATCH (192). */
  syncHeaderBatch?: number
  /** Bodies per sync request. Default DEFAULT_SYNC_BODY_BATCH (128). */
  syncBodyBatch?: number
  /** Blocks' receipts per sync request. Default DEFAULT_SYNC_RECEIPT_BATCH (256). */
  syncReceiptBatch?: number
  /** Sync requests in flight per peer. Default DEFAULT_SYNC_REQUESTS_PER_PEER (4). */
  syncRequestsPerPeer?: number
  /** Blocks fetched ahead of the import. Default DEFAULT_SYNC_MAX_BLOCKS_AHEAD (2048). */
  syncMaxBlocksAhead?: number
  /** Deepest fork followed. Default DEFAULT_SYNC_MAX_FORK_DEPTH (90000). */
  syncMaxForkDepth?: number
  /** Unfetched announced transactions per peer. Default DEFAULT_TX_ANNOUNCEMENTS_PER_PEER (4096). */
  txAnnouncementsPerPeer?: number
  /** Transactions per GetPooledTransactions. Default DEFAULT_TX_FETCH_BATCH (256). */
  txFetchBatch?: number
  /** Time to deliver requested transactions. Default DEFAULT_TX_FETCH_TIMEOUT_MS (5 s). */
  txFetchTimeoutMs?: number
  /** Block hashes known per peer. Default DEFAULT_MAX_KNOWN_BLOCKS (1024). */
  maxKnownBlocks?: number
  /** Transaction hashes known per peer. Default DEFAULT_MAX_KNOWN_TXS (32768). */
  maxKnownTxs?: number
}

/**
 * Validated client configuration plus the shared runtime objects (event bus,
 * server). Every option is checked here so a mistake fails at construction
 * with a ConfigError naming the option, not later inside a socket callback.
 */
export class Config {
  readonly common: Common
  readonly useP2PServer: boolean
  readonly port: number
  readonly discPort: number
  readonly bindAddress: string
  readonly extIP: string
  readonly key: Uint8Array
  /** Absolute path of the dataDir, or undefined: nothing persists. */
  readonly dataDir: string | undefined
  readonly stateHistory: number
  /** Our node id: the 64-byte uncompressed public key without the 0x04 prefix. */
  readonly nodeId: Uint8Array
  readonly bootnodes: Enode[]
  readonly maxPeers: number
  readonly discV4: boolean
  readonly requestTimeoutMs: number
  readonly statusTimeoutMs: number
  readonly handshakeTimeoutMs: number
  readonly dialTimeoutMs: number
  readonly pingTimeoutMs: number
  readonly dialBackoffMs: number
  readonly redialBackoffMs: number
  readonly maxConcurrentDials: number
  readonly discoveryTimeoutMs: number
  readonly discoveryRefreshMs: number
  readonly maxMessageSize: number
  readonly banTimeMs: number
  readonly maxServeItems: number
  readonly responseSoftLimit: number
  readonly serveConcurrency: number
  readonly maxQueuedRequests: number
  readonly txPoolMaxSize: number
  /** Offered eth versions, highest first. */
  readonly ethVersions: readonly EthVersion[]
  readonly blockRangeUpdateIntervalMs: number
  readonly maxBlockRangeUpdatesPerMinute: number
  readonly maxReceiptContinuations: number
  readonly metricsPort: number | undefined
  readonly metricsAddress: string
  readonly rpcPort: number | undefined
  readonly rpcAddress: string
  readonly rpcMaxBodyBytes: number
  readonly rpcMaxBatchSize: number
  readonly rpcReadTimeoutMs: number
  readonly sync: boolean
  /** Seconds between produced blocks; 0: this node produces none. */
  readonly devPeriod: number
  readonly syncHeaderBatch: number
  readonly syncBodyBatch: number
  readonly syncReceiptBatch: number
  readonly syncRequestsPerPeer: number
  readonly syncMaxBlocksAhead: number
  readonly syncMaxForkDepth: number
  readonly txAnnouncementsPerPeer: number
  readonly txFetchBatch: number
  readonly txFetchTimeoutMs: number
  readonly maxKnownBlocks: number
  readonly maxKnownTxs: number
  readonly events = new EventBus()
  /** Every peer's score, shared by the pool (verdicts), the protocols (reports) and the operator views. */
  readonly reputation: Reputation
  /** Per-message counts for the metrics; present iff `metricsPort` is set. */
  readonly tally: MessageTally | undefined

  private serverInstance: AnyServer | undefined

  constructor(opts: ConfigOptions = {}) {
    this.common = opts.common ?? ChainCommon.custom({ chainId: DEFAULT_CHAIN_ID, name: DEFAULT_CHAIN_NAME })
    this.useP2PServer = opts.useP2PServer ?? false
    this.port = checkPort('port', opts.port ?? DEFAULT_PORT)
    this.discPort = checkPort('discPort', opts.discPort ?? this.port)
    this.bindAddress = checkIPv4('bindAddress', opts.bindAddress ?? DEFAULT_BIND_ADDRESS)
    this.extIP = checkIPv4('extIP', opts.extIP ?? DEFAULT_EXT_IP)
    this.dataDir = opts.dataDir === undefined ? undefined : checkDataDir(opts.dataDir)
    this.stateHistory = checkInt('stateHistory', opts.stateHistory ?? DEFAULT_STATE_HISTORY, 1)
    this.key = opts.key === undefined && this.dataDir !== undefined ? loadOrCreateNodeKey(this.dataDir) : checkKey(opts.key)
    this.nodeId = nodeIdFromPrivateKey(this.key)
    this.bootnodes = (opts.bootnodes ?? []).map(parseBootnode)
    this.maxPeers = checkInt('maxPeers', opts.maxPeers ?? DEFAULT_MAX_PEERS, 1)
    this.discV4 = opts.discV4 ?? true
    this.requestTimeoutMs = checkInt('requestTimeoutMs', opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 1)
    this.statusTimeoutMs = checkInt('statusTimeoutMs', opts.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS, 1)
    this.handshakeTimeoutMs = checkInt('handshakeTimeoutMs', opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 1)
    this.dialTimeoutMs = checkInt('dialTimeoutMs', opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS, 1)
    this.pingTimeoutMs = checkInt('pingTimeoutMs', opts.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS, 1)
    this.dialBackoffMs = checkInt('dialBackoffMs', opts.dialBackoffMs ?? DEFAULT_DIAL_BACKOFF_MS, 0)
    this.redialBackoffMs = checkInt('redialBackoffMs', opts.redialBackoffMs ?? DEFAULT_REDIAL_BACKOFF_MS, 0)
    this.maxConcurrentDials = checkInt('maxConcurrentDials', opts.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS, 1)
    this.discoveryTimeoutMs = checkInt('discoveryTimeoutMs', opts.discoveryTimeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS, 1)
    // devp2p divides the refresh period by ten; below 10 ms its interval would be 0 and spin.
    this.discoveryRefreshMs = checkInt('discoveryRefreshMs', opts.discoveryRefreshMs ?? DEFAULT_DISCOVERY_REFRESH_MS, 10)
    this.maxMessageSize = checkInt('maxMessageSize', opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, 1)
    this.banTimeMs = checkInt('banTimeMs', opts.banTimeMs ?? DEFAULT_BAN_TIME_MS, 1)
    this.maxServeItems = checkMaxServeItems(opts.maxServeItems ?? DEFAULT_MAX_SERVE_ITEMS)
    this.responseSoftLimit = checkInt('responseSoftLimit', opts.responseSoftLimit ?? DEFAULT_RESPONSE_SOFT_LIMIT, 1)
    this.serveConcurrency = checkInt('serveConcurrency', opts.serveConcurrency ?? DEFAULT_SERVE_CONCURRENCY, 1)
    this.maxQueuedRequests = checkInt('maxQueuedRequests', opts.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS, 1)
    this.txPoolMaxSize = checkInt('txPoolMaxSize', opts.txPoolMaxSize ?? DEFAULT_TX_POOL_MAX_SIZE, 1)
    this.sync = checkBool('sync', opts.sync ?? true)
    this.devPeriod = checkSeconds('devPeriod', opts.devPeriod ?? 0, MAX_DEV_PERIOD_S)
    this.syncHeaderBatch = checkInt('syncHeaderBatch', opts.syncHeaderBatch ?? DEFAULT_SYNC_HEADER_BATCH, 1, MAX_HEADERS_PER_REQUEST)
    this.syncBodyBatch = checkInt('syncBodyBatch', opts.syncBodyBatch ?? DEFAULT_SYNC_BODY_BATCH, 1, MAX_HASHES_PER_REQUEST)
    this.syncReceiptBatch = checkInt('syncReceiptBatch', opts.syncReceiptBatch ?? DEFAULT_SYNC_RECEIPT_BATCH, 1, MAX_HASHES_PER_REQUEST)
    this.syncRequestsPerPeer = checkInt('syncRequestsPerPeer', opts.syncRequestsPerPeer ?? DEFAULT_SYNC_REQUESTS_PER_PEER, 1)
    this.syncMaxBlocksAhead = checkInt('syncMaxBlocksAhead', opts.syncMaxBlocksAhead ?? DEFAULT_SYNC_MAX_BLOCKS_AHEAD, 1)
    this.syncMaxForkDepth = checkInt('syncMaxForkDepth', opts.syncMaxForkDepth ?? DEFAULT_SYNC_MAX_FORK_DEPTH, 1)
    this.txAnnouncementsPerPeer = checkInt('txAnnouncementsPerPeer', opts.txAnnouncementsPerPeer ?? DEFAULT_TX_ANNOUNCEMENTS_PER_PEER, 1)
    this.txFetchBatch = checkInt('txFetchBatch', opts.txFetchBatch ?? DEFAULT_TX_FETCH_BATCH, 1, MAX_HASHES_PER_REQUEST)
    this.txFetchTimeoutMs = checkInt('txFetchTimeoutMs', opts.txFetchTimeoutMs ?? DEFAULT_TX_FETCH_TIMEOUT_MS, 1)
    this.maxKnownBlocks = checkInt('maxKnownBlocks', opts.maxKnownBlocks ?? DEFAULT_MAX_KNOWN_BLOCKS, 1)
    this.maxKnownTxs = checkInt('maxKnownTxs', opts.maxKnownTxs ?? DEFAULT_MAX_KNOWN_TXS, 1)
    this.ethVersions = checkEthVersions(opts.ethVersions ?? DEFAULT_ETH_VERSIONS)
    this.blockRangeUpdateIntervalMs = checkInt('blockRangeUpdateIntervalMs', opts.blockRangeUpdateIntervalMs ?? DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS, 0)
    this.maxBlockRangeUpdatesPerMinute = checkInt('maxBlockRangeUpdatesPerMinute', opts.maxBlockRangeUpdatesPerMinute ?? DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE, 1)
    this.maxReceiptContinuations = checkInt('maxReceiptContinuations', opts.maxReceiptContinuations ?? DEFAULT_MAX_RECEIPT_CONTINUATIONS, 0)
    this.metricsPort = opts.metricsPort === undefined ? undefined : checkPort('metricsPort', opts.metricsPort)
    this.metricsAddress = checkIPv4('metricsAddress', opts.metricsAddress ?? DEFAULT_OPERATOR_ADDRESS)
    this.rpcPort = opts.rpcPort === undefined ? undefined : checkPort('rpcPort', opts.rpcPort)
    this.rpcAddress = checkIPv4('rpcAddress', opts.rpcAddress ?? DEFAULT_OPERATOR_ADDRESS)
    this.rpcMaxBodyBytes = checkInt('rpcMaxBodyBytes', opts.rpcMaxBodyBytes ?? DEFAULT_RPC_MAX_BODY_BYTES, 1)
    this.rpcMaxBatchSize = checkInt('rpcMaxBatchSize', opts.rpcMaxBatchSize ?? DEFAULT_RPC_MAX_BATCH_SIZE, 1)
    this.rpcReadTimeoutMs = checkInt('rpcReadTimeoutMs', opts.rpcReadTimeoutMs ?? DEFAULT_RPC_READ_TIMEOUT_MS, 1)
    this.reputation = new Reputation({
      events: this.events,
      halfLifeMs: checkInt('reputationHalfLifeMs', opts.reputationHalfLifeMs ?? DEFAULT_REPUTATION_HALF_LIFE_MS, 1),
      tableSize: checkInt('reputationTableSize', opts.reputationTableSize ?? DEFAULT_REPUTATION_TABLE_SIZE, 1),
    })
    this.tally = this.metricsPort === undefined ? undefined : new MessageTally()
  }

  /** What the eth senders and sessions report their traffic to: the tally, or nothing without metrics. */
  get meter(): MessageMeter {
    return this.tally ?? NO_METER
  }

  /**
   * The networking server selected by `useP2PServer`, created on first use so
   * a Config can be built and validated without opening anything.
   */
  get server(): AnyServer {
    this.serverInstance ??= createServer(this)
    return this.serverInstance
  }
}
