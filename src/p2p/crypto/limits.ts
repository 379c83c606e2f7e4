/**
 * Limits and defaults of the ECIES secure channel. Each one is overridable per
 * connection through the options of secureOutbound / secureInbound.
 */

/**
 * Whole-handshake deadline (auth + ack + key derivation). A healthy peer answers
 * in one round trip plus a few milliseconds of EC work; 10 s tolerates slow
 * links and loaded hosts while bounding how long a silent peer holds a socket.
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
