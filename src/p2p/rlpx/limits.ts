import { DEFAULT_MAX_MESSAGE_LENGTH } from '../codec/length-prefixed'
import { MAX_RLPX_FRAME_SIZE } from '../crypto/limits'

/**
 * Protocol constants and the limits of an RLPx session, each with the reason
 * for its default. Every default is overridable through RlpxMuxerOptions.
 */

/** The version of the "p2p" base protocol we announce (EIP-706: snappy). */
export const BASE_PROTOCOL_VERSION = 5
/** Peers announcing this version or higher compress every message after Hello. */
export const SNAPPY_PROTOCOL_VERSION = 5
/** Message ids 0x00–0x0f belong to the base protocol; capabilities start at 0x10. */
export const BASE_PROTOCOL_LENGTH = 0x10

/** Base protocol message ids. */
export const HELLO_MSG = 0x00
export const DISCONNECT_MSG = 0x01
export const PING_MSG = 0x02
export const PONG_MSG = 0x03

/**
 * 2 KiB: geth's cap on base protocol messages (Hello included). A Hello with a
 * client id and a dozen capabilities is a few hundred bytes; anything bigger
 * is refused before it is decoded.
 */
export const MAX_BASE_PROTOCOL_MESSAGE_SIZE = 2 * 1024

/**
 * 16 MiB - 1: the largest message (uncompressed) accepted or sent, as geth
 * caps both the frame and the snappy-decoded length at 24 bits. Checked from
 * snappy's length header before any byte is decompressed.
 */
export const DEFAULT_RLPX_MAX_MESSAGE_SIZE = MAX_RLPX_FRAME_SIZE

/**
 * 16 MiB - 1: the inbound frame limit while the channel carries RLPx. One
 * frame is one (compressed) message, so the secure channel's 1 MiB default
 * would refuse large but legitimate messages; this bounds what one frame may
 * make us buffer before its MAC is checked.
 */
export const DEFAULT_RLPX_MAX_FRAME_SIZE = MAX_RLPX_FRAME_SIZE

/**
 * 10 MiB: a capability's message limit (code byte plus payload, uncompressed)
 * unless its Capability says otherwise: geth's eth and snap cap. It matches the
 * 10 MiB of `uvarint(n) || code || RLP` messages on a stream, so the capability
 * stream never hands StreamEthProtocol a message its framing would refuse.
 */
export const DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE = DEFAULT_MAX_MESSAGE_LENGTH

/** 15 s: geth's and devp2p's ping interval. */
export const DEFAULT_PING_INTERVAL_MS = 15_000

/**
 * 15 s: how long a Ping may go unanswered before the session ends with
 * TIMEOUT. Ping interval plus this is 30 s, geth's read deadline for a silent
 * peer. The wait is extended while we ourselves have stopped reading
 * (backpressure from a slow local consumer), so a busy node does not blame
 * its peers for Pongs it has not read yet.
 */
export const DEFAULT_PONG_TIMEOUT_MS = 15_000

/**
 * 20 Pings per 15 s window: honest peers send one per 15 s; a peer sending
 * more than one every 750 ms is flooding, and each Ping costs us a Pong.
 * Past the limit the session ends with PROTOCOL_ERROR.
 */
export const DEFAULT_MAX_PINGS_PER_WINDOW = 20
/** 15 s: the fixed window Pings are counted in (one honest ping interval). */
export const DEFAULT_PING_WINDOW_MS = 15_000

/**
 * 5 s: geth's budget for the Hello exchange (with the ECIES handshake). The
 * Upgrader normally bounds the whole upgrade with its own signal instead.
 */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000

/**
 * 2 s: after sending Disconnect, how long the remote gets to close the
 * connection before we destroy it ("give the peer a fighting chance", the
 * spec's 2 seconds). A graceful close first gives the streams' queued
 * writes up to as long again to go out before the Disconnect.
 */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 2_000

/**
 * 128 KiB of unread bytes on a capability stream counts as congested: the
 * session stops reading frames until the reader catches up, so backpressure
 * reaches TCP (the same mark as an mplex stream's).
 */
export const DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK = 128 * 1024
