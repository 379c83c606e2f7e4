import { P2PError, describeError, markTimeout } from '../errors'
import { UpgradeError } from '../stack-errors'

/** Errors of the TCP Transport and TransportListener (`ERR_TRANSPORT_*`). */
export class TransportError extends P2PError {}

/** A remote id that is not a 64-byte uncompressed public key (without 0x04). */
export class InvalidRemoteIdError extends TransportError {
  constructor(length: number) {
    super('ERR_TRANSPORT_INVALID_REMOTE_ID', `remote id must be 64 bytes, got ${length}`)
  }
}

/** A dial to our own node id (compared against the id derived from our public key). */
export class SelfDialError extends TransportError {
  constructor() {
    super('ERR_TRANSPORT_SELF_DIAL', 'refusing to dial our own node id')
  }
}

/** The TCP connect failed (refused, unreachable, reset). */
export class DialError extends TransportError {
  constructor(readonly addr: { host: string; port: number }, cause: unknown) {
    super('ERR_TRANSPORT_DIAL_FAILED', `dial ${addr.host}:${addr.port} failed: ${describeError(cause)}`, { cause })
  }
}

/** The TCP connect did not complete within `dialTimeoutMs`. */
export class DialTimeoutError extends TransportError {
  static {
    markTimeout(this)
  }

  constructor(readonly addr: { host: string; port: number }, readonly timeoutMs: number) {
    super('ERR_TRANSPORT_DIAL_TIMEOUT', `dial ${addr.host}:${addr.port} timed out after ${timeoutMs} ms`)
  }
}

/** The connection gater refused an outbound dial. */
export class DialDeniedError extends TransportError {
  constructor(readonly addr: { host: string; port: number }) {
    super('ERR_TRANSPORT_DIAL_DENIED', `connection gater denied dialing ${addr.host}:${addr.port}`)
  }
}

/** The listening socket could not be bound (address in use, permission). */
export class ListenError extends TransportError {
  constructor(readonly addr: { host: string; port: number }, cause: unknown) {
    super('ERR_TRANSPORT_LISTEN_FAILED', `listen on ${addr.host}:${addr.port} failed: ${describeError(cause)}`, { cause })
  }
}

/** listen() twice, address() before listen(), listen() after close(). */
export class ListenerStateError extends TransportError {
  constructor(message: string) {
    super('ERR_TRANSPORT_LISTENER_STATE', message)
  }
}

/**
 * Emitted as the listener's 'error' when an accepted socket failed to
 * upgrade. `remoteId` is the remote's node id when the failure came after
 * the secure channel authenticated it (see UpgradeError), else undefined.
 */
export class InboundUpgradeError extends TransportError {
  readonly remoteId: Uint8Array | undefined

  constructor(readonly remoteAddr: { host: string; port: number }, cause: unknown) {
    super(
      'ERR_TRANSPORT_INBOUND_UPGRADE_FAILED',
      `inbound upgrade from ${remoteAddr.host}:${remoteAddr.port} failed: ${describeError(cause)}`,
      { cause },
    )
    this.remoteId = cause instanceof UpgradeError ? cause.remoteId : undefined
  }
}

/** Why the listener dropped a socket before (or instead of) upgrading it. */
export type RefusalReason =
  | 'gater'
  | 'max-pending-handshakes'
  | 'max-pending-handshakes-per-ip'
  | 'max-connections'
  | 'listener-closing'

/** Emitted as the listener's 'refused' event: a socket dropped by policy, not by failure. */
export class InboundRefusedError extends TransportError {
  constructor(readonly remoteAddr: { host: string; port: number }, readonly reason: RefusalReason) {
    super('ERR_TRANSPORT_INBOUND_REFUSED', `refused inbound socket from ${remoteAddr.host}:${remoteAddr.port}: ${reason}`)
  }
}
