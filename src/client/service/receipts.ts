/**
 * Serving eth/70's partial receipt lists (EIP-7975, caps/eth.md Receipts):
 * the first block's list starts at the request's `firstBlockReceiptIndex`,
 * whole lists follow in request order while the reply is below the soft
 * limit, and a list that would take the reply past it is cut between two
 * receipts, the reply then saying `lastBlockIncomplete`. So a block whose
 * receipts are larger than any message arrives over several replies, each
 * about `softLimitBytes`.
 *
 * Where geth cuts inside a list only at the 10 MiB message limit, this cuts
 * at the soft limit (2 MiB by default) like it does between lists: replies
 * stay small for every block. The spec phrases the flag as "would overflow"
 * the message size; a requester continues the same way either way.
 */

/** A block's consensus receipts by hash, or undefined if we do not have the block. */
export type ReceiptLookup = (hash: Uint8Array) => Promise<Uint8Array[] | undefined>

export interface PartialReceiptLimits {
  /** Receipts are added while the reply is below this many bytes (at least one receipt per reply). */
  softLimitBytes: number
  /** Most blocks looked at. */
  maxBlocks: number
}

export interface PartialReceiptsReply {
  receipts: Uint8Array[][]
  lastBlockIncomplete: boolean
}

export async function collectPartialReceipts(
  hashes: readonly Uint8Array[],
  firstBlockReceiptIndex: bigint,
  lookup: ReceiptLookup,
  limits: PartialReceiptLimits,
): Promise<PartialReceiptsReply> {
  const receipts: Uint8Array[][] = []
  let bytes = 0
  for (const hash of hashes.slice(0, limits.maxBlocks)) {
    if (bytes >= limits.softLimitBytes) break
    const list = await lookup(hash)
    // No receipts for this block: the reply ends here (caps/eth.md).
    if (list === undefined) break
    const from = receipts.length === 0 ? startIndex(firstBlockReceiptIndex, list.length) : 0
    const part: Uint8Array[] = []
    for (let i = from; i < list.length; i++) {
      // bytes < limit held when this list began, so `part` has a receipt whenever this cuts.
      if (bytes >= limits.softLimitBytes) {
        receipts.push(part)
        return { receipts, lastBlockIncomplete: true }
      }
      part.push(list[i]!)
      bytes += list[i]!.length
    }
    receipts.push(part)
  }
  return { receipts, lastBlockIncomplete: false }
}

/** An index past the end leaves the first list empty (as geth answers it). */
function startIndex(first: bigint, length: number): number {
  return first >= BigInt(length) ? length : Number(first)
}
