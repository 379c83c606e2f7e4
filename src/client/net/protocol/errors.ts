import { ClientError } from '../../errors'

/**
 * Errors of the ETH protocol layer (codec, fork id, Status handshake, request
 * tracking). Every class has one stable `code`; the message carries the reason.
 */

/** A received ETH message is malformed (bad RLP, wrong shape, non-canonical integer, bad length, ...). */
export class EthCodecError extends ClientError {
  /** Message name being decoded, when known. */
  readonly messageName?: string

  constructor(reason: string, opts: { messageName?: string; cause?: unknown } = {}) {
    super('ERR_ETH_DECODE', opts.messageName ? `${opts.messageName}: ${reason}` : reason, { cause: opts.cause })
    this.messageName = opts.messageName
  }
}

/** We were asked to send something the ETH protocol cannot carry (wrong version, missing fields, blob tx broadcast, ...). */
export class EthEncodeError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ETH_ENCODE', message, options)
  }
}

/** Why EIP-2124 rejects a remote fork id (the EIP's two error kinds). */
export type ForkIdRejection = 'remote-stale' | 'local-incompatible-or-stale'

/** The remote's fork id is incompatible with our chain (EIP-2124 validation). */
export class ForkIdError extends ClientError {
  readonly reason: ForkIdRejection

  constructor(reason: ForkIdRejection, detail: string) {
    super(
      reason === 'remote-stale' ? 'ERR_FORKID_REMOTE_STALE' : 'ERR_FORKID_LOCAL_INCOMPATIBLE',
      `fork id rejected (${reason}): ${detail}`,
    )
    this.reason = reason
  }
}

/** Which Status field did not match ours. */
export type StatusField = 'version' | 'networkId' | 'genesisHash' | 'forkId'

/** The remote's Status names another chain (network id, genesis, fork id) or another protocol version. */
export class StatusMismatchError extends ClientError {
  readonly field: StatusField

  constructor(field: StatusField, detail: string, options?: { cause?: unknown }) {
    super('ERR_ETH_STATUS_MISMATCH', `Status ${field} mismatch: ${detail}`, options)
    this.field = field
  }
}

/** The remote did not send its Status within `statusTimeoutMs`. */
export class StatusTimeoutError extends ClientError {
  constructor(timeoutMs: number) {
    super('ERR_ETH_STATUS_TIMEOUT', `no Status received within ${timeoutMs} ms`)
  }
}

/** The transport refused the Status exchange (e.g. devp2p's own Status checks failed). */
export class HandshakeError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ETH_HANDSHAKE', message, options)
  }
}

/** The transport under the protocol failed (e.g. devp2p reported a session error); the session is over. */
export class TransportError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ETH_TRANSPORT', message, options)
  }
}

/** A second Status arrived on a session whose handshake is done. */
export class DuplicateStatusError extends ClientError {
  constructor() {
    super('ERR_ETH_DUPLICATE_STATUS', 'remote sent a second Status message')
  }
}

/** A non-Status message arrived before the remote's Status. */
export class MessageBeforeStatusError extends ClientError {
  constructor(name: string) {
    super('ERR_ETH_MESSAGE_BEFORE_STATUS', `remote sent ${name} before its Status`)
  }
}

/** A response whose reqId matches no request in flight, or whose type does not answer it. */
export class UnexpectedResponseError extends ClientError {
  constructor(message: string) {
    super('ERR_ETH_UNEXPECTED_RESPONSE', message)
  }
}

/** A response that decodes fine but cannot be an answer to the request (more items than asked, ...). */
export class InvalidResponseError extends ClientError {
  constructor(message: string) {
    super('ERR_ETH_INVALID_RESPONSE', message)
  }
}

/** A request got no response within `requestTimeoutMs`. */
export class RequestTimeoutError extends ClientError {
  readonly reqId: bigint

  constructor(name: string, reqId: bigint, timeoutMs: number) {
    super('ERR_ETH_REQUEST_TIMEOUT', `${name} (reqId ${reqId}) got no response within ${timeoutMs} ms`)
    this.reqId = reqId
  }
}

/** The session ended (remote disconnect, transport error, local close) while something was pending. */
export class PeerDisconnectedError extends ClientError {
  constructor(message = 'peer disconnected', options?: { cause?: unknown }) {
    super('ERR_PEER_DISCONNECTED', message, options)
  }
}

/** A request argument is out of the range we allow ourselves to ask for. */
export class RequestArgumentError extends ClientError {
  constructor(message: string) {
    super('ERR_ETH_REQUEST_ARGUMENT', message)
  }
}

/** The remote flooded a Sender's pre-handshake buffer before a consumer attached. */
export class SenderBufferOverflowError extends ClientError {
  constructor(limit: number) {
    super('ERR_ETH_SENDER_BUFFER_FULL', `more than ${limit} inbound items buffered before the protocol attached`)
  }
}

/** Where a block range was announced. */
export type BlockRangeSource = 'Status' | 'BlockRangeUpdate'

/** An eth/69+ block range that cannot be (earliest after latest, zero latest hash): a protocol error. */
export class InvalidBlockRangeError extends ClientError {
  readonly source: BlockRangeSource

  constructor(source: BlockRangeSource, reason: string) {
    super('ERR_ETH_INVALID_BLOCK_RANGE', `invalid block range in ${source}: ${reason}`)
    this.source = source
  }
}

/** A remote sent one kind of announcement faster than its limit allows (e.g. BlockRangeUpdate). */
export class MessageFloodError extends ClientError {
  constructor(
    readonly messageName: string,
    limit: number,
    windowMs: number,
  ) {
    super('ERR_ETH_MESSAGE_FLOOD', `more than ${limit} ${messageName} messages within ${windowMs} ms`)
  }
}

/**
 * The two ends offer no eth version in common. `theirs` lists the remote's
 * eth versions where the transport tells them (the RLPx Hello), and is
 * undefined where it only says no (multistream-select answers `na`).
 */
export class NoSharedVersionError extends ClientError {
  constructor(
    readonly ours: readonly number[],
    readonly theirs: readonly number[] | undefined,
  ) {
    super('ERR_ETH_NO_SHARED_VERSION', `no shared eth version: ours ${formatVersions(ours)}, theirs ${theirs === undefined ? 'none of ours (all refused)' : formatVersions(theirs)}`)
  }
}

/** A Receipts reply that marks a block's list incomplete where it cannot be (no progress, too many continuations). */
export class ReceiptContinuationError extends ClientError {
  constructor(message: string) {
    super('ERR_ETH_RECEIPT_CONTINUATION', message)
  }
}

/** A block's receipts, rebuilt in consensus form, do not match its header (receipts root, gas used, bloom). */
export class ReceiptsMismatchError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ETH_RECEIPTS_MISMATCH', message, options)
  }
}

/** `[70, 69, 68, 67, 66]` -> "66-70"; gaps are listed: `[70, 68]` -> "68,70"; nothing -> "none". */
export function formatVersions(versions: readonly number[]): string {
  const sorted = [...new Set(versions)].sort((a, b) => a - b)
  if (sorted.length === 0) return 'none'
  const runs: string[] = []
  let start = sorted[0]!
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && sorted[i] === sorted[i - 1]! + 1) continue
    const end = sorted[i - 1]!
    runs.push(start === end ? `${start}` : `${start}-${end}`)
    start = sorted[i]!
  }
  return runs.join(',')
}
