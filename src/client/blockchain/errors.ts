import { ClientError } from '../errors'

/** Stable codes of every error the chain layer raises. */
export type ChainErrorCode =
  | 'ERR_CHAIN_CLOSED' // used after close() and before open()
  | 'ERR_CHAIN_UNKNOWN_BLOCK' // a block/header asked for by hash or number is not stored
  | 'ERR_CHAIN_INVALID_BLOCK' // putBlocks refused a block (validation failed, wrong parent, ...)
  | 'ERR_CHAIN_INVALID_RECEIPTS' // putBlocks refused receipts that do not match the block
  | 'ERR_CHAIN_INVALID_ARGUMENT' // a query argument out of range (negative max, ...)
  | 'ERR_CHAIN_GENESIS_MISMATCH' // the genesis allocation does not produce the configured state root
  | 'ERR_CHAIN_BODY_MISMATCH' // a block body does not match its header's roots
  | 'ERR_CHAIN_RECEIPTS_MISMATCH' // receipts do not match their header's roots
  | 'ERR_CHAIN_STATE_PRUNED' // a block's state (or its parent's, to execute on) is older than the states kept

/** Every error of src/client/blockchain (and of the chain verifiers in src/client/testing). */
export class ChainError extends ClientError {
  declare readonly code: ChainErrorCode

  constructor(code: ChainErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/**
 * The state a call needs is no longer kept: a dataDir keeps the states of the last
 * `stateHistory` blocks (128 by default). Raised for a block that forks from a block older
 * than that (it cannot be executed) and for a state query at such a block. Not a fault of the
 * block or of whoever sent it.
 */
export class StatePrunedError extends ChainError {
  /** The block whose state is gone. */
  readonly number: bigint
  /** Its state root. */
  readonly stateRoot: Uint8Array

  constructor(message: string, number: bigint, stateRoot: Uint8Array) {
    super('ERR_CHAIN_STATE_PRUNED', message)
    this.number = number
    this.stateRoot = stateRoot
  }
}

/**
 * putBlocks refused a block: it fails validation or execution, or does not extend the chain.
 * The fault is the block's (and whoever vouched for it), unlike a pruned state.
 */
export class InvalidBlockError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CHAIN_INVALID_BLOCK', message, options)
  }
}
