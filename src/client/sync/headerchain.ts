import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { BadHeadersError, MissingDataError, OtherChainError } from './errors'

import type { BlockHeader } from '@ethereumjs/block'

/**
 * Checks on header replies. A reply to "count headers from number `first`" (ascending, or
 * descending with `reverse`) that holds the wrong numbers or headers that do not link by
 * parent hash is provably bad (BadHeadersError); one that is short only shows the peer lacks
 * blocks (MissingDataError); a well-formed run that starts or ends off the chain being
 * synced belongs to another chain (OtherChainError).
 */

export interface RunRequest {
  first: bigint
  count: number
  reverse?: boolean
}

/** Numbers `first`, `first±1`, ...; parent hashes linking them; at least `minCount` headers. */
export function checkRun(headers: readonly BlockHeader[], req: RunRequest, minCount = req.count): void {
  const step = req.reverse === true ? -1n : 1n
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const want = req.first + step * BigInt(i)
    if (h.number !== want) throw new BadHeadersError(`header ${i} of a run from #${req.first} is #${h.number}, expected #${want}`)
    if (i === 0) continue
    const [child, parent] = step === 1n ? [h, headers[i - 1]!] : [headers[i - 1]!, h]
    if (!equalsBytes(child.parentHash, parent.hash())) {
      throw new BadHeadersError(`broken parent link: #${child.number} names parent ${bytesToHex(child.parentHash)}, #${parent.number} is ${bytesToHex(parent.hash())}`)
    }
  }
  if (headers.length < minCount) throw new MissingDataError(`${headers.length} of ${req.count} headers from #${req.first}`)
}

/** An ascending run that must hang off `parentHash` and, when given, end at `endHash`. */
export function checkEnds(headers: readonly BlockHeader[], parentHash: Uint8Array, endHash: Uint8Array | undefined): void {
  const first = headers[0]
  const last = headers[headers.length - 1]
  if (first === undefined || last === undefined) return
  if (!equalsBytes(first.parentHash, parentHash)) {
    throw new OtherChainError(`#${first.number} has parent ${bytesToHex(first.parentHash)}, the synced chain has ${bytesToHex(parentHash)}`)
  }
  if (endHash !== undefined && !equalsBytes(last.hash(), endHash)) {
    throw new OtherChainError(`#${last.number} is ${bytesToHex(last.hash())}, the synced chain has ${bytesToHex(endHash)}`)
  }
}

/** Skeleton headers of a request from `first` with `skip`: the numbers first, first+skip+1, ... */
export function checkSkeleton(headers: readonly BlockHeader[], first: bigint, span: bigint, count: number): void {
  for (let i = 0; i < headers.length; i++) {
    const want = first + span * BigInt(i)
    if (headers[i]!.number !== want) throw new BadHeadersError(`skeleton header ${i} is #${headers[i]!.number}, expected #${want}`)
  }
  if (headers.length < count) throw new MissingDataError(`${headers.length} of ${count} skeleton headers from #${first}`)
}

/** The header asked for by hash must have that hash (and the announced number, when one was announced). */
export function checkHeadHeader(header: BlockHeader, hash: Uint8Array, number: bigint | undefined): void {
  if (!equalsBytes(header.hash(), hash)) throw new BadHeadersError(`asked for ${bytesToHex(hash)}, got ${bytesToHex(header.hash())}`)
  if (number !== undefined && header.number !== number) {
    throw new BadHeadersError(`announced ${bytesToHex(hash)} as #${number}, its header says #${header.number}`)
  }
}
