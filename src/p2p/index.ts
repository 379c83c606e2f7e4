/**
 * Public API of the modular P2P stack (DESIGN section 4). The client reaches
 * the stack only through this file.
 *
 * Layers, bottom up: TCP `Transport` / `TransportListener` → `Upgrader`
 * (ECIES secure channel, then `/mplex/6.7.0` chosen with multistream-select)
 * → `Connection` (mplex streams, each negotiated with multistream-select)
 * → `Registrar` (protocol handlers). Every error is a `P2PError` subclass
 * with a stable `code`.
 */

export { P2PError, AbortError, TimeoutError } from './errors'

// codec: uvarint and uvarint-length-prefixed message framing
export * from './codec'

// crypto: ECIES secure channel. Two names collide with the stack's own and
// are exported here under an ECIES prefix.
export * from './crypto'
export {
  ConnectionClosedError as EciesConnectionClosedError,
  DEFAULT_HANDSHAKE_TIMEOUT_MS as DEFAULT_ECIES_HANDSHAKE_TIMEOUT_MS,
} from './crypto'

// multistream-select 1.0
export * from './multistream'

// mplex
export * from './muxer'

// stack: registrar, connection, upgrader, transport
export * from './stack-errors'
export { ConnectionClosedError } from './stack-errors'
export * from './registrar'
export * from './connection'
export * from './upgrader'
export { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './upgrader'
export * from './transport'

// devp2p base protocol (RLPx): disconnect reason codes
export * from './rlpx'

// abort / timeout / event helpers shared by the stack and its users
export * from './util'
