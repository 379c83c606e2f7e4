import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_MESSAGE_LENGTH } from '../p2p'

import { MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_RECEIPTS_SERVE } from './blockchain/serve'
import { ETH_VERSIONS, type EthVersion } from './net/protocol/ethmessages'

// The default of every Config option, with why it is what it is. ARCHITECTURE's limits table
// lists them by layer; config.ts documents each beside its option.

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
/** Largest ETH message accepted: the stack's 10 MiB message limit (docs/ARCHITECTURE.md), geth's eth cap; a BlockBodies reply may legitimately approach it. */
export const DEFAULT_MAX_MESSAGE_SIZE = DEFAULT_MAX_MESSAGE_LENGTH
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
