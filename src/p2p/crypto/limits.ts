/**
 * Limits and defaults of the ECIES secure channel. Each one is overridable per
 * connection through the options of secureOutbound / secureInbound.
 */

/**
 * Handshake deadline: of secureOutbound / secureInbound (auth + ack + key
 * derivation), and the default of the Upgrader's whole upgrade (that plus
 * the muxer selection, one more round trip) and of the client's
 * `handshakeTimeoutMs`. A healthy peer answers in a round trip or two plus a
 * few milliseconds of EC work; 10 s tolerates slow links and loaded hosts
 * while freeing a stalled handshake's slot before a flood of them piles up.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Largest frame body this side sends. Every frame costs a fixed amount of work
 * (header encryption, three MAC digests, a socket write) on top of the
 * per-byte AES + keccak cost; at 256 KiB that fixed part is ~1-2 % of the frame's
 * crypto time, while the receiver, which must hold a whole frame until its MAC
 * verifies, buffers and delays at most 256 KiB per connection. Larger frames
 * gain almost nothing in throughput and cost latency and memory.
 */
export const DEFAULT_MAX_OUTBOUND_FRAME_SIZE = 256 * 1024

/**
 * Largest frame body accepted from the remote. The RLPx size field allows
 * 16 MiB - 1, but a frame is buffered whole before its MAC can be checked, so
 * this bounds per-connection memory. 1 MiB is 4x what this implementation sends,
 * leaving room for peers configured with bigger frames.
 */
export const DEFAULT_MAX_INBOUND_FRAME_SIZE = 1024 * 1024

/** The RLPx frame header carries the body size in 24 bits. */
export const MAX_RLPX_FRAME_SIZE = 0xffffff

/**
 * Largest EIP-8 auth/ack packet accepted (size prefix included). Real packets
 * are 300-700 bytes (RLP body + 100-300 bytes of padding + 113 bytes of ECIES
 * overhead); 2 KiB leaves room for future extra list elements while refusing to
 * buffer arbitrary amounts from an unauthenticated peer.
 */
export const MAX_HANDSHAKE_PACKET_SIZE = 2048
