import type { Block, BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, bytesToHex, equalsBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'

import { ChainError } from './errors'
import { orderedTrieRoot } from './ordered-trie'

/**
 * Checks a block body (as served in BlockBodies) against its header: transactions root,
 * uncle hash, and withdrawals root (present exactly when the header has one). Works on the
 * raw wire items, so nothing is decoded or re-encoded on the way. Throws ChainError
 * ERR_CHAIN_BODY_MISMATCH naming the first field that does not match.
 */
export function verifyBody(header: BlockHeader, body: BlockBodyBytes): void {
  const [txs, uncles, withdrawals] = body
  if (!Array.isArray(txs) || !Array.isArray(uncles)) {
    throw mismatch(header, 'body must be [transactions, uncles, withdrawals?]')
  }
  // Typed transactions travel as their EIP-2718 envelope bytes, legacy ones as RLP lists;
  // the trie stores the envelope, respectively the list's RLP encoding.
  const txValues = (txs as (Uint8Array | Uint8Array[])[]).map((tx) => (tx instanceof Uint8Array ? tx : RLP.encode(tx)))
  const txRoot = orderedTrieRoot(txValues)
  if (!equalsBytes(txRoot, header.transactionsTrie)) {
    throw mismatch(header, `transactions root ${bytesToHex(txRoot)} != header ${bytesToHex(header.transactionsTrie)}`)
  }
  const uncleHash = keccak_256(RLP.encode(uncles))
  if (!equalsBytes(uncleHash, header.uncleHash)) {
    throw mismatch(header, `uncle hash ${bytesToHex(uncleHash)} != header ${bytesToHex(header.uncleHash)}`)
  }
  verifyWithdrawals(header, withdrawals)
}

function verifyWithdrawals(header: BlockHeader, withdrawals: BlockBodyBytes[2]): void {
  if (header.withdrawalsRoot === undefined) {
    if (withdrawals !== undefined) throw mismatch(header, 'withdrawals present but the header has no withdrawals root')
    return
  }
  if (!Array.isArray(withdrawals)) throw mismatch(header, 'withdrawals missing but the header has a withdrawals root')
  const root = orderedTrieRoot(withdrawals.map((w) => RLP.encode(w)))
  if (!equalsBytes(root, header.withdrawalsRoot)) {
    throw mismatch(header, `withdrawals root ${bytesToHex(root)} != header ${bytesToHex(header.withdrawalsRoot)}`)
  }
}

/** Like verifyBody, as a predicate. */
export function bodyMatchesHeader(header: BlockHeader, body: BlockBodyBytes): boolean {
  return passes(() => verifyBody(header, body))
}

/** One receipt in consensus form, decoded just enough to check it against a header. */
export interface DecodedReceipt {
  type: number // 0 for legacy
  status: Uint8Array // 0x01 success, empty failure (pre-Byzantium: a state root)
  cumulativeGasUsed: bigint
  bloom: Uint8Array
  logs: Uint8Array[][]
}

/**
 * Decodes a consensus-encoded receipt: a legacy receipt is the RLP list
 * [status, cumulativeGas, bloom, logs]; a typed one is `type || RLP(list)` (EIP-2718).
 */
export function decodeReceipt(bytes: Uint8Array): DecodedReceipt {
  if (bytes.length === 0) throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', 'empty receipt')
  const typed = bytes[0]! < 0x80
  const type = typed ? bytes[0]! : 0
  let fields: unknown
  try {
    fields = RLP.decode(typed ? bytes.subarray(1) : bytes)
  } catch (err) {
    throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', `receipt is not valid RLP: ${(err as Error).message}`, { cause: err })
  }
  if (!Array.isArray(fields) || fields.length !== 4) {
    throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', 'receipt must be a list of 4 fields')
  }
  const [status, gas, bloom, logs] = fields as [unknown, unknown, unknown, unknown]
  if (!(status instanceof Uint8Array) || !(gas instanceof Uint8Array) || !(bloom instanceof Uint8Array) || bloom.length !== 256 || !Array.isArray(logs)) {
    throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', 'receipt fields have the wrong shape')
  }
  return { type, status, cumulativeGasUsed: bytesToBigInt(gas), bloom, logs: logs as Uint8Array[][] }
}

/**
 * Checks one block's receipts against its header: receipts root, the block's gas used
 * (the last cumulative gas) and the logs bloom (OR of the receipts' blooms). Throws
 * ChainError ERR_CHAIN_RECEIPTS_MISMATCH with the reason.
 */
export function verifyReceipts(header: BlockHeader, receipts: readonly Uint8Array[]): void {
  const root = orderedTrieRoot(receipts)
  if (!equalsBytes(root, header.receiptTrie)) {
    throw new ChainError(
      'ERR_CHAIN_RECEIPTS_MISMATCH',
      `block ${header.number}: receipts root ${bytesToHex(root)} != header ${bytesToHex(header.receiptTrie)}`,
    )
  }
  const decoded = receipts.map(decodeReceipt)
  const gasUsed = decoded.length === 0 ? 0n : decoded[decoded.length - 1]!.cumulativeGasUsed
  if (gasUsed !== header.gasUsed) {
    throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', `block ${header.number}: receipts use ${gasUsed} gas, header ${header.gasUsed}`)
  }
  const bloom = new Uint8Array(256)
  for (const r of decoded) for (let i = 0; i < 256; i++) bloom[i] = bloom[i]! | r.bloom[i]!
  if (!equalsBytes(bloom, header.logsBloom)) {
    throw new ChainError('ERR_CHAIN_RECEIPTS_MISMATCH', `block ${header.number}: receipts' logs bloom differs from the header's`)
  }
}

/** Like verifyReceipts, as a predicate. */
export function receiptsMatchHeader(header: BlockHeader, receipts: readonly Uint8Array[]): boolean {
  return passes(() => verifyReceipts(header, receipts))
}

/**
 * Checks receipt lists handed to putBlocks, one per block: each against its header's receipts
 * root (verifyReceipts) and one receipt per transaction. Throws ERR_CHAIN_INVALID_RECEIPTS.
 */
export function checkReceiptLists(blocks: readonly Block[], receipts: readonly (readonly Uint8Array[])[]): void {
  if (receipts.length !== blocks.length) {
    throw new ChainError('ERR_CHAIN_INVALID_RECEIPTS', `${receipts.length} receipt lists for ${blocks.length} blocks`)
  }
  for (let i = 0; i < blocks.length; i++) {
    const { header } = blocks[i]!
    try {
      verifyReceipts(header, receipts[i]!)
    } catch (err) {
      throw new ChainError('ERR_CHAIN_INVALID_RECEIPTS', (err as Error).message, { cause: err })
    }
    if (receipts[i]!.length !== blocks[i]!.transactions.length) {
      throw new ChainError('ERR_CHAIN_INVALID_RECEIPTS', `block ${header.number}: ${receipts[i]!.length} receipts for ${blocks[i]!.transactions.length} transactions`)
    }
  }
}

function mismatch(header: BlockHeader, reason: string): ChainError {
  return new ChainError('ERR_CHAIN_BODY_MISMATCH', `block ${header.number} ${bytesToHex(header.hash())}: ${reason}`)
}

function passes(check: () => void): boolean {
  try {
    check()
    return true
  } catch (err) {
    if (err instanceof ChainError) return false
    throw err
  }
}
