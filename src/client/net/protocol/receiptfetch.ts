import { ReceiptContinuationError } from './errors'

/**
 * The requester's side of eth/70's partial receipt lists (EIP-7975): a
 * Receipts reply may end with `lastBlockIncomplete`, and the rest of that
 * block's list is then asked for with a GetReceipts naming the block first
 * and `firstBlockReceiptIndex` = how many of its receipts arrived. This
 * assembles the complete lists across such replies.
 *
 * A peer could claim "incomplete" forever. Two rules bound it: every reply
 * marked incomplete must carry at least one receipt, and one block's list
 * may take at most `maxContinuations` follow-up requests. With the block's
 * gas used known (`gasUsed`, from its header), a partial list is also held to
 * what that gas can pay for, as EIP-7975 asks: no more receipts than
 * transactions of the minimum cost, no more bytes than log data at 8 gas per
 * byte plus each receipt's fixed part. Breaking any rule is a
 * ReceiptContinuationError (the session reports it as a protocol error).
 * Lists are checked against the receipts roots by the caller once complete:
 * a partial list cannot be.
 */

/** Gas of the cheapest transaction (a plain transfer): a block holds at most gasUsed / this many. */
const MIN_TX_GAS = 21_000n
/** Log data costs 8 gas per byte (LOG's data cost; topics and address cost more per byte). */
const LOG_DATA_GAS = 8n
/** A receipt's bytes besides its logs: type, status, gas, the 256-byte bloom, RLP prefixes; rounded up. */
const RECEIPT_FIXED_BYTES = 512n

/** One Receipts reply as the codec decodes it. */
export interface ReceiptsReply {
  receipts: Uint8Array[][]
  lastBlockIncomplete?: boolean
}

/** The GetReceipts to send next. */
export interface ReceiptsQuery {
  hashes: Uint8Array[]
  firstBlockReceiptIndex: bigint
}

export class PartialReceipts {
  private readonly hashes: readonly Uint8Array[]
  private readonly maxContinuations: number
  /** Complete lists of the first `complete.length` blocks. */
  private readonly complete: Uint8Array[][] = []
  /** What arrived so far of block `complete.length`, if its list is unfinished. */
  private partial?: Uint8Array[]
  /** Follow-up requests made for block `complete.length`. */
  private continuations = 0

  /** Gas used of each requested block, aligned with `hashes`, where known. */
  private readonly gasUsed?: readonly bigint[]

  constructor(hashes: readonly Uint8Array[], maxContinuations: number, gasUsed?: readonly bigint[]) {
    this.hashes = hashes
    this.maxContinuations = maxContinuations
    this.gasUsed = gasUsed
  }

  /** The request to send: the first block not complete yet and those after it, from the first missing receipt. */
  next(): ReceiptsQuery {
    return { hashes: this.hashes.slice(this.complete.length), firstBlockReceiptIndex: BigInt(this.partial?.length ?? 0) }
  }

  /** Complete lists so far, in request order. */
  get lists(): Uint8Array[][] {
    return this.complete
  }

  /**
   * Takes the reply to next(). Returns true when the fetch is over: the reply
   * was not marked incomplete, so the lists (possibly fewer than asked, as
   * the server may stop early) are final; a list left unfinished by an
   * earlier reply and not continued is dropped, never returned as complete.
   */
  add(reply: ReceiptsReply): boolean {
    const lists = [...reply.receipts]
    const incomplete = reply.lastBlockIncomplete === true
    if (incomplete && !lists.some((l) => l.length > 0)) {
      throw new ReceiptContinuationError(`Receipts marked incomplete without a single receipt (block ${this.complete.length} of the request)`)
    }
    const continued = this.partial
    this.partial = undefined
    if (continued !== undefined && lists.length > 0) lists[0] = [...continued, ...lists[0]!]
    if (!incomplete) {
      this.complete.push(...lists)
      return true
    }
    const unfinished = lists.pop()!
    // The block whose list the previous reply left unfinished is unfinished again.
    const sameBlock = continued !== undefined && lists.length === 0
    this.complete.push(...lists)
    this.continuations = sameBlock ? this.continuations + 1 : 1
    if (this.continuations > this.maxContinuations) {
      throw new ReceiptContinuationError(
        `block ${this.complete.length} of the request still incomplete after ${this.maxContinuations} follow-up requests (${unfinished.length} receipts so far)`,
      )
    }
    this.checkAffordable(this.complete.length, unfinished)
    this.partial = unfinished
    return false
  }

  /** A partial list of block `index` holds no more than its gas used can pay for. */
  private checkAffordable(index: number, receipts: readonly Uint8Array[]): void {
    const gas = this.gasUsed?.[index]
    if (gas === undefined) return
    const maxReceipts = gas / MIN_TX_GAS
    const maxBytes = gas / LOG_DATA_GAS + maxReceipts * RECEIPT_FIXED_BYTES
    let bytes = 0n
    for (const r of receipts) bytes += BigInt(r.length)
    if (BigInt(receipts.length) > maxReceipts || bytes > maxBytes) {
      throw new ReceiptContinuationError(
        `block ${index} of the request: ${receipts.length} receipts of ${bytes} bytes so far, more than its ${gas} gas used allows (${maxReceipts} receipts, ${maxBytes} bytes)`,
      )
    }
  }
}
