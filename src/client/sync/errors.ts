import { PeerError } from '../errors'

/**
 * What a peer did wrong during a sync, as reported with PEER_ERROR. Two kinds: provably bad
 * data (the reply contradicts itself or the headers it answers: nobody honest sends it), for
 * which the peer is banned, and failures an honest peer can have (it is slow, on another
 * chain, or pruned what it announced), for which the peer only loses its part of the sync.
 */
export abstract class SyncPeerError extends PeerError {
  /** True when the data proves the peer dishonest or broken: the sync bans it. */
  abstract readonly provable: boolean
}

/** Headers that contradict the request or each other: wrong numbers, a broken parent link, a wrong hash. */
export class BadHeadersError extends SyncPeerError {
  readonly provable = true
  constructor(message: string) {
    super('ERR_PEER_SYNC_BAD_HEADERS', message)
  }
}

/** Bodies whose transactions, uncles or withdrawals do not match the roots of the headers they answer. */
export class BadBodiesError extends SyncPeerError {
  readonly provable = true
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_SYNC_BAD_BODIES', message, options)
  }
}

/** Receipts that do not match the receipts root, gas used or bloom of the headers they answer. */
export class BadReceiptsError extends SyncPeerError {
  readonly provable = true
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_SYNC_BAD_RECEIPTS', message, options)
  }
}

/** The chain a peer announced as its head contains a block that fails validation or execution. */
export class InvalidChainError extends SyncPeerError {
  readonly provable = true
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_SYNC_INVALID_CHAIN', message, options)
  }
}

/** A peer claims a head (Status, announcement) but does not serve its header. */
export class UnservedHeadError extends SyncPeerError {
  readonly provable = false
  constructor(message: string) {
    super('ERR_PEER_SYNC_HEAD_NOT_SERVED', message)
  }
}

/** A peer answered a sync request with fewer items than the chain it claims must have (none, or a short run). */
export class MissingDataError extends SyncPeerError {
  readonly provable = false
  constructor(message: string) {
    super('ERR_PEER_SYNC_MISSING_DATA', message)
  }
}

/** A peer's headers are consistent but belong to another chain than the one being synced. */
export class OtherChainError extends SyncPeerError {
  readonly provable = false
  constructor(message: string) {
    super('ERR_PEER_SYNC_OTHER_CHAIN', message)
  }
}

/** A peer did not answer a sync request in time. */
export class SyncTimeoutError extends SyncPeerError {
  readonly provable = false
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_SYNC_TIMEOUT', message, options)
  }
}

/** The peer's chain forks from ours deeper than syncMaxForkDepth below our head. */
export class ForkTooDeepError extends SyncPeerError {
  readonly provable = false
  constructor(message: string) {
    super('ERR_PEER_SYNC_FORK_TOO_DEEP', message)
  }
}
