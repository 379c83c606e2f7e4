/**
 * ECIES secure channel: RLPx's EIP-8 handshake and frame cipher, byte-compatible
 * with @ethereumjs/devp2p's ECIES and go-ethereum's p2p/rlpx, carrying the raw
 * bytes of the layer above in frame bodies.
 */
export { secureInbound, secureOutbound } from './handshake'
export type { ChannelOptions, SecureConnection, SecureOptions, SecureOutboundOptions } from './handshake'
export { type SecureFrameSink, SecureStream, STREAM_HIGH_WATER_MARK } from './secure-stream'
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  DEFAULT_MAX_OUTBOUND_FRAME_SIZE,
  MAX_HANDSHAKE_PACKET_SIZE,
  MAX_RLPX_FRAME_SIZE,
} from './limits'
export * from './errors'
/**
 * libsecp256k1 (WASM): node keys and ids for the whole code base, and the
 * signatures the client's discovery uses (discv4 signs and recovers every packet).
 */
export { isValidPrivateKey, nodeIdFromPrivateKey, randomPrivateKey, recoverPublicKey, signRecoverable } from './secp256k1'
