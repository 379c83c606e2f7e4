/**
 * Public API of the modular P2P stack; docs/ARCHITECTURE.md maps its layers.
 * The client reaches the stack only through this file.
 *
 * Layers, bottom up: TCP `Transport` / `TransportListener` → `Upgrader`
 * (ECIES secure channel, then `/mplex/6.7.0` chosen with multistream-select,
 * or the devp2p base protocol with an RLPx peer) → `Connection` (mplex
 * streams, each negotiated with multistream-select, or one stream per shared
 * RLPx capability; `MuxedStream` either way) → `Registrar` (protocol
 * handlers). Every error is a `P2PError` subclass with a stable `code`.
 *
 * `rlpx/` is the devp2p base protocol over the same secure channel, for
 * peers that speak RLPx (geth, @ethereumjs/devp2p): `RlpxMuxer` runs Hello,
 * snappy, Ping/Pong and Disconnect and offers each shared capability as an
 * `RlpxStream` with the stream id above (`/eth/69/1.0.0`). The Upgrader
 * tells the two kinds of peer apart (docs/ARCHITECTURE.md, "RLPx peers on
 * the modular stack").
 */

export { P2PError, AbortError, TimeoutError, describeError } from './errors'

// codec: uvarint and uvarint-length-prefixed message framing
export * from './codec'

// crypto: ECIES secure channel, node keys and ids
export * from './crypto'

// multistream-select 1.0
export * from './multistream'

// mplex
export * from './muxer'

// stack: registrar, connection, upgrader, transport
export * from './stack-errors'
export * from './registrar'
export * from './connection'
export type { MuxedStream } from './muxed-stream'
export { type ConnectionMuxer, MplexConnectionMuxer, RlpxConnectionMuxer } from './connection-muxer'
export * from './upgrader'
export { DEFAULT_MAX_REMEMBERED_RLPX_PEERS, type RlpxUpgradeOptions, RlpxPeerMemory } from './upgrader-rlpx'
export * from './transport'

// devp2p base protocol (RLPx): Hello, snappy, Ping/Pong, Disconnect, capability streams, first-frame test
export * from './rlpx'

// abort / timeout / event / byte helpers shared by the stack and its users
export * from './util'
