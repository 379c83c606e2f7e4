import { isIPv4 } from 'node:net'
import { resolve } from 'node:path'

import type { Common } from '@ethereumjs/common'

import { Common as ChainCommon } from '../chain-config'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, isValidPrivateKey, nodeIdFromPrivateKey, randomPrivateKey } from '../p2p'

import { MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_RECEIPTS_SERVE } from './blockchain/chain'
import { loadOrCreateNodeKey } from './db/nodekey'
import { DEFAULT_STATE_HISTORY } from './db/statestore'
import { ConfigError } from './errors'
import { ETH_VERSIONS, type EthVersion, MAX_HASHES_PER_REQUEST, MAX_HEADERS_PER_REQUEST, isEthVersion } from './net/protocol/ethmessages'
import { MessageTally } from './metrics/tally'
import { type MessageMeter, NO_METER } from './net/protocol/meter'
import { DEFAULT_REPUTATION_HALF_LIFE_MS, DEFAULT_REPUTATION_TABLE_SIZE, Reputation } from './net/reputation'
import { createServer } from './net/server'
import { parseEnode } from './net/server/enode'
import { EventBus } from './types'

import type { AnyServer } from './net/server'
import type { Enode } from './net/server/enode'

/** Chain id of the default custom chain, so two nodes started without options share a genesis. */
export const DEFAULT_CHAIN_ID = 1234
/** Name of the default custom chain. */
export const DEFAULT_CHAIN_NAME = 'testnet'
/** TCP port of the devp2p/RLPx listener: the conventional Ethereum port. */
export const DEFAULT_PORT = 30303
/** Listen on every interface, like other execution clients; tests pass 127.0.0.1. */
export const DEFAULT_BIND_ADDRESS = '0.0.0.0'
/** Address advertised in the enode URL and discovery packets; without NAT discovery, loopback is the only safe guess. */
export const DEFAULT_EXT_IP = '127.0.0.1'
/** Peer slots: enough for a healthy mesh without exhausting sockets on a small machine (geth's default is 50). */
export const DEFAULT_MAX_PEERS = 25
/** Answer to one ETH request: a remote that stays silent this long is treated as failing that request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 8_000
/** Wait for the remote Status after ours: a peer that never sends one holds a slot for nothing. */
export const DEFAULT_STATUS_TIMEOUT_MS = 10_000
/** Connection setup (ECIES auth/ack, then the devp2p Hello or the muxer negotiation): the stack's default, shared by both paths. */
export { DEFAULT_HANDSHAKE_TIMEOUT_MS }
/** TCP connect of a dial: a host that neither accepts nor refuses in this time is unreachable. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000
/**
 * Of two nodes that want to dial each other at the same moment (they just
 * discovered each other, or both lost their connection), the one with
 * the lower id dials at once and the other waits this long before dialing (if
 * still unconnected), so the two rarely race and open a duplicate.
 */
export const DEFAULT_DIAL_BACKOFF_MS = 3_000
/**
 * After a failed dial the node is not dialed again for this long: discovery
 * may report it again at any time, and a dead or refusing node must not cost
 * a socket and a handshake per report.
 */
export const DEFAULT_REDIAL_BACKOFF_MS = 30_000
/**
 * Dials in progress at once. A handshake is elliptic-curve work on both ends; a node that
 * dials everything it discovers at once queues so much of it that handshakes pass their
 * timeout and the work is lost. In bench/network.ts (50 nodes in one process) unbounded
 * dialing left most wanted peers unconnected where 8 at a time filled nearly every slot;
 * geth bounds its dials too.
 */
export const DEFAULT_MAX_CONCURRENT_DIALS = 8
/** devp2p keep-alive: a Ping unanswered this long ends the RLPx session; devp2p's default. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000
/** Discovery (discv4) ping: devp2p's own default; UDP answers either come fast or not at all. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 4_000
/** Discovery table refresh period (devp2p spreads it over ten sub-ticks); devp2p's default. */
export const DEFAULT_DISCOVERY_REFRESH_MS = 60_000
/** Largest ETH message accepted, the wire format's limit (docs/ARCHITECTURE.md); a BlockBodies reply may legitimately approach it. */
export const DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
/** How long a banned peer stays banned: devp2p's discovery ban length, so both layers agree. */
export const DEFAULT_BAN_TIME_MS = 5 * 60_000
/**
 * Largest maxServeItems a Config accepts: geth's per-reply serve limits (maxHeadersServe,
 * maxBodiesServe, maxReceiptsServe, all 1024), which are fixed in geth and which the Chain
 * applies to every reply it builds. A larger setting could not take effect, so it is refused.
 */
export const MAX_SERVE_ITEMS = Math.min(MAX_HEADERS_SERVE, MAX_BODIES_SERVE, MAX_RECEIPTS_SERVE)
/** Items answered per GetBlockHeaders/Bodies/Receipts/PooledTransactions/NodeData: geth's serve limit. */
export const DEFAULT_MAX_SERVE_ITEMS = MAX_SERVE_ITEMS
/** Stop adding items to a reply once it reaches this many bytes: geth's soft response limit. */
export const DEFAULT_RESPONSE_SOFT_LIMIT = 2 * 1024 * 1024
/**
 * Requests served at the same moment across all peers. The chain is in memory, so serving is
 * CPU work: more slots only interleave replies (each up to responseSoftLimit in memory), while
 * a few let a short request pass a long one. Each peer is served one request at a time.
 */
export const DEFAULT_SERVE_CONCURRENCY = 4
/**
 * Requests one peer may have waiting to be served; the next one is a flood and bans the peer.
 * Far above what a syncing peer pipelines (this client keeps at most tens in flight), and it
 * bounds what a flood holds: at most this many decoded requests, each under maxMessageSize.
 */
export const DEFAULT_MAX_QUEUED_REQUESTS = 256
/** Transactions held by the in-memory pool; the oldest is evicted beyond this. */
export const DEFAULT_TX_POOL_MAX_SIZE = 4096
/**
 * eth versions offered on both paths, highest first: what today's network speaks (geth
 * 1.17 offers eth/69 and later only) plus the older ones still accepted.
 */
export const DEFAULT_ETH_VERSIONS: readonly EthVersion[] = ETH_VERSIONS
/**
 * Least time between two BlockRangeUpdates we send (eth/69+); a head that moves sooner is
 * announced when the interval ends. From eth/69 on BlockRangeUpdate is the only message that
 * tells peers our head moved, and on a network without a consensus client (a test network
 * producing its own blocks) that is how they follow it, so every head is announced, but at
 * most once a second: half of what a receiver accepts (DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE),
 * and one message a second however fast a syncing node imports. geth sends one every 32
 * blocks instead, because on mainnet the consensus client spreads heads.
 */
export const DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS = 1000
/**
 * BlockRangeUpdates one peer may send per minute; one more is a flood (a protocol error).
 * geth sends one per 32 blocks (about one per 6 minutes on mainnet); even a sender that
 * announced every block of a 1-second dev chain stays below this.
 */
export const DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE = 120
/**
 * Follow-up GetReceipts one block's receipt list may take on eth/70 when replies mark it
 * incomplete; one more and the peer is treated as lying (a protocol error). Every reply must
 * also add receipts. A reply holds at least ~2 MiB (the soft limit) of a split list, geth's
 * up to 10 MiB, so 16 continuations cover a block's receipts of 34 MiB and more: far beyond
 * what gas limits allow (log data costs 8 gas per byte).
 */
export const DEFAULT_MAX_RECEIPT_CONTINUATIONS = 16

/** Operator endpoints (metrics, JSON-RPC) listen on loopback unless told otherwise: they are not for the internet. */
export const DEFAULT_OPERATOR_ADDRESS = '127.0.0.1'
/** Largest JSON-RPC request body: geth's HTTP body limit (5 MiB); a raw transaction of a full block still fits. */
export const DEFAULT_RPC_MAX_BODY_BYTES = 5 * 1024 * 1024
/** Most calls in one JSON-RPC batch: geth's BatchRequestLimit. */
export const DEFAULT_RPC_MAX_BATCH_SIZE = 1000
/**
 * Time a JSON-RPC client has to send its whole request, head and body (geth's HTTP read
 * timeout is 30 s): a client trickling bytes to hold a socket (slow loris) is cut off then.
 */
export const DEFAULT_RPC_READ_TIMEOUT_MS = 30_000

/**
 * Headers per GetBlockHeaders of a sync, and the span between two skeleton headers (each gap is
 * one fill request): geth's MaxHeaderFetch.
 */
export const DEFAULT_SYNC_HEADER_BATCH = 192
/** Bodies per GetBlockBodies of a sync: geth's MaxBlockFetch. */
export const DEFAULT_SYNC_BODY_BATCH = 128
/** Blocks' receipts per GetReceipts of a sync: geth's MaxReceiptFetch. */
export const DEFAULT_SYNC_RECEIPT_BATCH = 256
/**
 * Sync requests one peer has in flight at once. A node serves one request per peer at a time
 * (see serveConcurrency), so more than one only keeps that peer's queue from running dry
 * while a reply travels; a few cover loopback and LAN round trips.
 */
export const DEFAULT_SYNC_REQUESTS_PER_PEER = 4
/**
 * Blocks fetched ahead of the last one imported: bounds what a sync holds in memory while
 * execution, the slower part, catches up (a 1 MiB block body would make this 2 GiB, so the
 * few such chains lower it). geth's block cache holds 8192.
 */
export const DEFAULT_SYNC_MAX_BLOCKS_AHEAD = 2048
/**
 * Deepest fork the sync follows: the common ancestor is searched this far below our head and
 * no further (a binary search, so about log2 of it in requests). geth's maxForkAncestry.
 */
export const DEFAULT_SYNC_MAX_FORK_DEPTH = 90_000
/** Announced transaction hashes not yet fetched, per peer; more are dropped: geth's maxTxAnnounces. */
export const DEFAULT_TX_ANNOUNCEMENTS_PER_PEER = 4096
/** Transactions asked for in one GetPooledTransactions: geth's maxTxRetrievals. */
export const DEFAULT_TX_FETCH_BATCH = 256
/** Time a peer has to deliver announced transactions we asked for: geth's txFetchTimeout. */
export const DEFAULT_TX_FETCH_TIMEOUT_MS = 5_000
/** Block hashes remembered per peer as known to it (not announced to it again): geth's maxKnownBlocks. */
export const DEFAULT_MAX_KNOWN_BLOCKS = 1024
/** Transaction hashes remembered per peer as known to it: geth's maxKnownTxs. */
export const DEFAULT_MAX_KNOWN_TXS = 32_768
/** Longest devPeriod: a timer holds at most 2^31-1 ms. */
export const MAX_DEV_PERIOD_S = Math.floor((2 ** 31 - 1) / 1000)

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

function checkInt(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value)) throw new ConfigError(option, `expected an integer, got ${String(value)}`)
  if (value < min || value > max) throw new ConfigError(option, `${value} is outside ${min}..${max}`)
  return value
}

function checkMaxServeItems(value: number): number {
  if (Number.isInteger(value) && value > MAX_SERVE_ITEMS) {
    throw new ConfigError('maxServeItems', `${value} is above ${MAX_SERVE_ITEMS}, the most a reply carries (geth's serve limits, applied by the chain to every reply)`)
  }
  return checkInt('maxServeItems', value, 1)
}

function checkEthVersions(versions: readonly number[]): readonly EthVersion[] {
  if (!Array.isArray(versions) || versions.length === 0) throw new ConfigError('ethVersions', 'expected a non-empty list of eth versions')
  const out: EthVersion[] = []
  for (const v of versions) {
    if (!isEthVersion(v)) throw new ConfigError('ethVersions', `eth/${String(v)} is not supported (supported: ${ETH_VERSIONS.join(', ')})`)
    if (out.includes(v)) throw new ConfigError('ethVersions', `eth/${v} is listed twice`)
    out.push(v)
  }
  return Object.freeze(out.sort((a, b) => b - a))
}

function checkBool(option: string, value: boolean): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected true or false, got ${String(value)}`)
  return value
}

/** A duration in seconds, fractions allowed (a test network may produce several blocks a second). */
function checkSeconds(option: string, value: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(option, `expected a number of seconds, got ${String(value)}`)
  if (value < 0 || value > max) throw new ConfigError(option, `${value} is outside 0..${max}`)
  return value
}

function checkPort(option: string, value: number): number {
  return checkInt(option, value, 0, 65535)
}

function checkIPv4(option: string, value: string): string {
  if (!isIPv4(value)) throw new ConfigError(option, `"${value}" is not an IPv4 address`)
  return value
}

function checkDataDir(dir: string): string {
  if (typeof dir !== 'string' || dir.trim() === '') throw new ConfigError('dataDir', 'expected a directory path')
  return resolve(dir)
}

function checkKey(key: Uint8Array | undefined): Uint8Array {
  if (key === undefined) return randomPrivateKey()
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new ConfigError('key', 'expected a 32-byte secp256k1 private key')
  }
  if (!isValidPrivateKey(key)) throw new ConfigError('key', 'not a valid secp256k1 private key (zero or >= curve order)')
  return key
}

function parseBootnode(url: string, index: number): Enode {
  const parsed = typeof url === 'string' ? parseEnode(url) : `entry ${index} is not a string`
  if (typeof parsed === 'string') throw new ConfigError('bootnodes', parsed)
  return parsed
}
