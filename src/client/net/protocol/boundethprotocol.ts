import { equalsBytes } from '@ethereumjs/util'

import { ChainError } from '../../blockchain/errors'
import { verifyReceipts } from '../../blockchain/verify'
import { BoundProtocol } from './boundprotocol'
import { ReceiptContinuationError, ReceiptsMismatchError, RequestArgumentError } from './errors'
import { hasPartialReceipts } from './ethmessages'
import { PartialReceipts } from './receiptfetch'

import type { BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'

/** The eth session: BoundProtocol plus typed request helpers resolving to the decoded items. */
export class BoundEthProtocol extends BoundProtocol {
  async getBlockHeaders(opts: { block: bigint | Uint8Array; max: number; skip?: number; reverse?: boolean }): Promise<BlockHeader[]> {
    const res = await this.request('GetBlockHeaders', { block: opts.block, max: opts.max, skip: opts.skip ?? 0, reverse: opts.reverse ?? false })
    return res.headers
  }

  async getBlockBodies(opts: { hashes: Uint8Array[] }): Promise<BlockBodyBytes[]> {
    return (await this.request('GetBlockBodies', { hashes: opts.hashes })).bodies
  }

  /**
   * Consensus-encoded receipts of the blocks `hashes` names, whatever the
   * version: eth/69+ replies are rebuilt with their blooms by the codec, and
   * on eth/70 a list the peer split over several replies is continued until
   * complete (PartialReceipts). The answer may hold fewer lists than asked
   * (the peer stops where it lacks a block or at its size limit). With
   * `headers` (aligned with `hashes`) every list is checked against its
   * header's receipts root, gas used and bloom (and a list still partial to
   * what its gas used allows); a mismatch, like a broken continuation,
   * rejects and is reported as the peer's protocol error.
   */
  async getReceipts(opts: { hashes: Uint8Array[]; headers?: readonly BlockHeader[] }): Promise<Uint8Array[][]> {
    const { hashes, headers } = opts
    if (headers !== undefined) checkHeadersMatch(hashes, headers)
    const lists = hasPartialReceipts(this.version)
      ? await this.fetchPartialReceipts(hashes, headers?.map((h) => h.gasUsed))
      : (await this.request('GetReceipts', { hashes })).receipts
    if (headers !== undefined) this.checkReceipts(headers, lists)
    return lists
  }

  async getPooledTransactions(opts: { hashes: Uint8Array[] }): Promise<TypedTransaction[]> {
    return (await this.request('GetPooledTransactions', { hashes: opts.hashes })).txs
  }

  private async fetchPartialReceipts(hashes: Uint8Array[], gasUsed?: bigint[]): Promise<Uint8Array[][]> {
    const fetch = new PartialReceipts(hashes, this.config.maxReceiptContinuations, gasUsed)
    for (;;) {
      const reply = await this.request('GetReceipts', fetch.next())
      try {
        if (fetch.add(reply)) return fetch.lists
      } catch (err) {
        if (err instanceof ReceiptContinuationError) this.protocolError(err)
        throw err
      }
    }
  }

  private checkReceipts(headers: readonly BlockHeader[], lists: Uint8Array[][]): void {
    for (let i = 0; i < lists.length; i++) {
      try {
        verifyReceipts(headers[i]!, lists[i]!)
      } catch (err) {
        if (!(err instanceof ChainError)) throw err
        const mismatch = new ReceiptsMismatchError(`Receipts from ${this.peer.toString()}: ${err.message}`, { cause: err })
        this.protocolError(mismatch)
        throw mismatch
      }
    }
  }
}

function checkHeadersMatch(hashes: readonly Uint8Array[], headers: readonly BlockHeader[]): void {
  if (headers.length !== hashes.length || headers.some((h, i) => !equalsBytes(h.hash(), hashes[i]!))) {
    throw new RequestArgumentError('getReceipts: headers must be the headers of the blocks in hashes, in the same order')
  }
}
