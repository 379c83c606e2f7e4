import { isIPv4 } from 'node:net'

import type { Common } from '@ethereumjs/common'
import { getPublicKey, utils as secp } from '@noble/secp256k1'

import { Common as ChainCommon } from '../chain-config'

import { ConfigError } from './errors'
import { MAX_HASHES_PER_REQUEST, MAX_HEADERS_PER_REQUEST } from './net/protocol/ethmessages'
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
/** Secure-channel handshake (ECIES auth/ack, muxer negotiation) of the P2P stack. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000
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
 * Dials in progress at once. A handshake is elliptic-curve work (about 13 ms of CPU for both
 * ends together here: 79 sequential connections per second in bench/connect.ts); a node that
 * dials everything it discovers at once queues so much of it that handshakes pass their
 * timeout and the work is lost. With 50 nodes in one process (bench/network.ts), unbounded
 * dialing ended at about 20 % of the wanted peers and 8 at 98-100 %; geth bounds its dials too.
 */
export const DEFAULT_MAX_CONCURRENT_DIALS = 8
/** devp2p keep-alive: a Ping unanswered this long ends the RLPx session; devp2p's default. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000
/** Discovery (discv4) ping: devp2p's own default; UDP answers either come fast or not at all. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 4_000
/** Discovery table refresh period (devp2p spreads it over ten sub-ticks); devp2p's default. */
export const DEFAULT_DISCOVERY_REFRESH_MS = 60_000
/** Largest ETH message accepted; a BlockBodies reply may legitimately approach this (DESIGN section 3). */
export const DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
/** How long a banned peer stays banned: devp2p's discovery ban length, so both layers agree. */
export const DEFAULT_BAN_TIME_MS = 5 * 60_000
/** Items answered per GetBlockHeaders/Bodies/Receipts/PooledTransactions: geth's serve limit. */
export const DEFAULT_MAX_SERVE_ITEMS = 1024
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
  /** 32-byte secp256k1 private key (node identity). Default: random. */
  key?: Uint8Array
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
  /** Most items in one reply. Default DEFAULT_MAX_SERVE_ITEMS (1024). */
  maxServeItems?: number
  /** A reply stops growing once it reaches this many bytes. Default DEFAULT_RESPONSE_SOFT_LIMIT (2 MiB). */
  responseSoftLimit?: number
  /** Requests served at once across all peers (each peer one at a time). Default DEFAULT_SERVE_CONCURRENCY (4). */
  serveConcurrency?: number
  /** Requests one peer may have waiting to be served; one more bans it. Default DEFAULT_MAX_QUEUED_REQUESTS (256). */
  maxQueuedRequests?: number
  /** Transactions kept in the in-memory pool. Default DEFAULT_TX_POOL_MAX_SIZE (4096). */
  txPoolMaxSize?: number
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

  private serverInstance: AnyServer | undefined

  constructor(opts: ConfigOptions = {}) {
    this.common = opts.common ?? ChainCommon.custom({ chainId: DEFAULT_CHAIN_ID, name: DEFAULT_CHAIN_NAME })
    this.useP2PServer = opts.useP2PServer ?? false
    this.port = checkPort('port', opts.port ?? DEFAULT_PORT)
    this.discPort = checkPort('discPort', opts.discPort ?? this.port)
    this.bindAddress = checkIPv4('bindAddress', opts.bindAddress ?? DEFAULT_BIND_ADDRESS)
    this.extIP = checkIPv4('extIP', opts.extIP ?? DEFAULT_EXT_IP)
    this.key = checkKey(opts.key)
    this.nodeId = getPublicKey(this.key, false).subarray(1)
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
    this.maxServeItems = checkInt('maxServeItems', opts.maxServeItems ?? DEFAULT_MAX_SERVE_ITEMS, 1)
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

function checkKey(key: Uint8Array | undefined): Uint8Array {
  if (key === undefined) return secp.randomSecretKey()
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new ConfigError('key', 'expected a 32-byte secp256k1 private key')
  }
  if (!secp.isValidSecretKey(key)) throw new ConfigError('key', 'not a valid secp256k1 private key (zero or >= curve order)')
  return key
}

function parseBootnode(url: string, index: number): Enode {
  const parsed = typeof url === 'string' ? parseEnode(url) : `entry ${index} is not a string`
  if (typeof parsed === 'string') throw new ConfigError('bootnodes', parsed)
  return parsed
}
