import { P2PError, describeError, markTimeout } from './errors'
import { type DisconnectReason, describeDisconnectReason } from './rlpx/disconnect-reason'
import type { RlpxError } from './rlpx/errors'
import { toHex } from './util/bytes'

/**
 * Errors of the stack's upper half: Registrar, Upgrader and Connection.
 * Codes are stable (`ERR_REGISTRAR_*`, `ERR_UPGRADE_*`, `ERR_CONNECTION_*`);
 * lower-layer errors (ECIES, multistream-select, mplex) travel as `cause`.
 */

export class RegistrarError extends P2PError {}

/** `handle()` for a protocol that already has a handler (call `unhandle()` first). */
export class DuplicateProtocolError extends RegistrarError {
  constructor(readonly protocol: string) {
    super('ERR_REGISTRAR_DUPLICATE_PROTOCOL', `protocol ${protocol} already has a handler`)
  }
}

/** A protocol id multistream-select could not carry (empty, too long, newline). */
export class InvalidProtocolIdError extends RegistrarError {
  constructor(readonly protocol: string, reason: string) {
    super('ERR_REGISTRAR_INVALID_PROTOCOL', `invalid protocol id ${JSON.stringify(protocol.slice(0, 64))}: ${reason}`)
  }
}

/**
 * The phases of a connection upgrade, in order: the ECIES handshake, then
 * 'muxer' (the first frame, and multistream-select choosing mplex) or, with
 * an RLPx peer, 'hello' (the devp2p Hello exchange).
 */
export type UpgradePhase = 'encryption' | 'muxer' | 'hello'

/**
 * A connection upgrade failed. `remoteId` is the remote's node id once the
 * secure channel has authenticated it (failures in the muxer phase), so a
 * caller can act on the node (ban it, remember what it speaks) without
 * keeping its own table of who is behind which socket.
 */
export class UpgradeError extends P2PError {
  readonly remoteId: Uint8Array | undefined

  constructor(code: string, message: string, options?: { cause?: unknown; remoteId?: Uint8Array }) {
    super(code, message, options)
    this.remoteId = options?.remoteId
  }
}

/** The secure channel plus muxer selection did not finish within `handshakeTimeoutMs`; `phase` is the one it was in. */
export class UpgradeTimeoutError extends UpgradeError {
  static {
    markTimeout(this)
  }

  constructor(readonly timeoutMs: number, readonly phase: UpgradePhase, remoteId?: Uint8Array) {
    super('ERR_UPGRADE_TIMEOUT', `handshake did not finish within ${timeoutMs} ms (during ${phase})`, { remoteId })
  }
}

/** The ECIES handshake failed; `cause` is the crypto layer's error. */
export class EncryptionFailedError extends UpgradeError {
  constructor(cause: unknown) {
    super('ERR_UPGRADE_ENCRYPTION_FAILED', `secure channel handshake failed: ${describeError(cause)}`, { cause })
  }
}

/**
 * multistream-select over the secure channel did not agree on `/mplex/6.7.0`.
 * After a successful ECIES handshake this is what a legacy RLPx peer looks
 * like (its first frame is a devp2p Hello, not a multistream header).
 */
export class MuxerNegotiationError extends UpgradeError {
  constructor(cause: unknown, remoteId?: Uint8Array) {
    super('ERR_UPGRADE_MUXER_NEGOTIATION_FAILED', `muxer negotiation failed: ${describeError(cause)}`, { cause, remoteId })
  }
}

/**
 * A dial to a node not known to speak RLPx answered our multistream-select
 * proposal with something that is not multistream framing (a devp2p Hello
 * frame starts with 0x80, which reads as an oversized length): an RLPx-only
 * node. The Upgrader has remembered it as RLPx by now, and
 * `Transport.dial` redials it as RLPx at once; this error reaches a caller
 * only from `upgradeOutbound` itself.
 */
export class LegacyRlpxPeerError extends UpgradeError {
  constructor(cause: unknown, remoteId?: Uint8Array) {
    super(
      'ERR_UPGRADE_LEGACY_RLPX',
      `remote speaks RLPx (devp2p), not multistream-select: ${describeError(cause)}`,
      { cause, remoteId },
    )
  }
}

/**
 * The RLPx Hello exchange with an RLPx peer failed. `cause` is the RlpxError
 * (its `reason` the Disconnect sent, or for RlpxRemoteDisconnectError the
 * one received): a Hello naming another id, no shared capability, a
 * Disconnect instead of a Hello, the connection lost.
 */
export class RlpxHandshakeFailedError extends UpgradeError {
  constructor(
    override readonly cause: RlpxError,
    remoteId: Uint8Array,
  ) {
    super('ERR_UPGRADE_RLPX_HANDSHAKE_FAILED', `RLPx Hello exchange failed: ${describeError(cause)}`, { cause, remoteId })
  }
}

/** The authenticated remote id is our own: a node never connects to itself. */
export class SelfConnectionError extends UpgradeError {
  constructor() {
    super('ERR_UPGRADE_SELF_CONNECTION', 'remote id is our own node id')
  }
}

/**
 * The connection gater refused the authenticated remote id. `reason` is the
 * devp2p Disconnect reason an RLPx peer was sent (a modular peer has no
 * Disconnect: its connection is closed).
 */
export class PeerDeniedError extends UpgradeError {
  readonly reason: DisconnectReason

  constructor(remoteId: Uint8Array, reason: DisconnectReason) {
    super('ERR_UPGRADE_PEER_DENIED', `connection gater denied peer ${toHex(remoteId).slice(0, 16)}…: ${describeDisconnectReason(reason)}`, { remoteId })
    this.reason = reason
  }
}

export class ConnectionError extends P2PError {}

/** An operation on a connection that is closing or closed. */
export class ConnectionClosedError extends ConnectionError {
  constructor(message = 'connection is closed', options?: { cause?: unknown }) {
    super('ERR_CONNECTION_CLOSED', message, options)
  }
}

/** The socket went away under an open connection (reset, EOF, crypto failure). */
export class ConnectionLostError extends ConnectionError {
  constructor(cause: unknown) {
    super('ERR_CONNECTION_LOST', `connection lost: ${describeError(cause)}`, { cause })
  }
}

/** A graceful close did not finish within the close timeout; the socket was destroyed. */
export class ConnectionCloseTimeoutError extends ConnectionError {
  static {
    markTimeout(this)
  }

  constructor(readonly timeoutMs: number) {
    super('ERR_CONNECTION_CLOSE_TIMEOUT', `graceful close did not finish within ${timeoutMs} ms`)
  }
}

/** The remote supports none of the protocols we proposed for a stream. */
export class ProtocolNotSupportedError extends ConnectionError {
  constructor(readonly protocols: readonly string[], cause?: unknown) {
    super('ERR_CONNECTION_PROTOCOL_NOT_SUPPORTED', `remote supports none of ${protocols.join(', ')}`, { cause })
  }
}

/** Stream protocol negotiation failed for another reason than "not supported". */
export class StreamNegotiationError extends ConnectionError {
  constructor(cause: unknown) {
    super('ERR_CONNECTION_STREAM_NEGOTIATION_FAILED', `stream negotiation failed: ${describeError(cause)}`, { cause })
  }
}

/** Stream protocol negotiation did not finish within `streamNegotiationTimeoutMs`. */
export class StreamNegotiationTimeoutError extends ConnectionError {
  static {
    markTimeout(this)
  }

  constructor(readonly timeoutMs: number) {
    super('ERR_CONNECTION_STREAM_NEGOTIATION_TIMEOUT', `stream negotiation did not finish within ${timeoutMs} ms`)
  }
}

/** A per-protocol stream limit of the Registrar was reached. */
export class TooManyStreamsError extends ConnectionError {
  constructor(
    readonly protocol: string,
    readonly direction: 'inbound' | 'outbound',
    readonly limit: number,
  ) {
    super(
      direction === 'inbound' ? 'ERR_CONNECTION_TOO_MANY_INBOUND_STREAMS' : 'ERR_CONNECTION_TOO_MANY_OUTBOUND_STREAMS',
      `too many ${direction} streams for ${protocol} (limit ${limit})`,
    )
  }
}

/** A protocol handler threw or rejected; its stream was reset. */
export class StreamHandlerError extends ConnectionError {
  constructor(readonly protocol: string, cause: unknown) {
    super('ERR_CONNECTION_STREAM_HANDLER_FAILED', `handler for ${protocol} failed: ${describeError(cause)}`, { cause })
  }
}
