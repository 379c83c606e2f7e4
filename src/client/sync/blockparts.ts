import { type Block, type BlockBodyBytes, type BlockBytes, type BlockHeader, createBlockFromBytesArray } from '@ethereumjs/block'
import { KECCAK256_RLP, KECCAK256_RLP_ARRAY, equalsBytes } from '@ethereumjs/util'

import type { Common } from '@ethereumjs/common'

/**
 * A block's parts as a sync gathers them: the header first, then the body and receipts it
 * commits to. A header that commits to nothing (no transactions, uncles or withdrawals, so no
 * receipts either) needs no request: its body and receipts are known from the header alone,
 * as geth's downloader skips them.
 */

/** Whether the header's body holds anything (a request is needed to learn it). */
export function needsBody(header: BlockHeader): boolean {
  const noWithdrawals = header.withdrawalsRoot === undefined || equalsBytes(header.withdrawalsRoot, KECCAK256_RLP)
  return !(equalsBytes(header.transactionsTrie, KECCAK256_RLP) && equalsBytes(header.uncleHash, KECCAK256_RLP_ARRAY) && noWithdrawals)
}

/** Whether the block has receipts (it has exactly when it has transactions). */
export function needsReceipts(header: BlockHeader): boolean {
  return !equalsBytes(header.receiptTrie, KECCAK256_RLP)
}

/** The body of a header for which needsBody is false. */
export function emptyBody(header: BlockHeader): BlockBodyBytes {
  return header.withdrawalsRoot === undefined ? [[], []] : [[], [], []]
}

/** The block of a header and its (verified) body, decoded with the rules of its own fork. */
export function assembleBlock(header: BlockHeader, body: BlockBodyBytes, common: Common): Block {
  return createBlockFromBytesArray([header.raw(), ...body] as BlockBytes, { common, setHardfork: true })
}
