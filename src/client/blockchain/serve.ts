import { bytesToHex } from '@ethereumjs/util'

import { ChainError } from './errors'

/**
 * The eth protocol's serve rules, as Chain applies them to every reply: how many items a
 * reply may hold, its soft byte budget, and what a missing item does to it.
 */

/**
 * Most headers one getHeaders call returns, whatever `max` asks for (geth's maxHeadersServe).
 * A peer may ask for 2^64-1 headers; the work and the reply stay bounded by this.
 */
export const MAX_HEADERS_SERVE = 1024

/** Most bodies one getBodies call returns (geth's maxBodiesServe); later hashes are not looked at. */
export const MAX_BODIES_SERVE = 1024

/** Most blocks' receipts one getReceipts call returns (geth's maxReceiptsServe). */
export const MAX_RECEIPTS_SERVE = 1024

/** Most state entries (trie nodes, contract code) one getNodeData call returns (geth's maxNodeDataServe). */
export const MAX_NODE_DATA_SERVE = 384

/**
 * Default soft byte budget of a getBodies/getReceipts reply (geth's softResponseLimit, 2 MiB):
 * items are added while the running total is below it, so a reply holds at least one item and
 * stays near this size, well under the 10 MiB message cap unless a single item is that large.
 */
export const SOFT_RESPONSE_LIMIT = 2 * 1024 * 1024

/** How much one reply may hold, and what a key without an item does to it. */
export interface ReplyBudget {
  /** Most items. */
  max: number
  /** Items are added while the reply is below this many bytes (SOFT_RESPONSE_LIMIT by default). */
  softLimitBytes?: number
  /** 'stop': the reply ends at the first key without an item; 'skip': that key is left out. */
  onMiss: 'stop' | 'skip'
}

/** Looks `keys` up in order into a reply that respects `budget` (the eth protocol's serve rules). */
export async function collectReply<T>(keys: readonly Uint8Array[], budget: ReplyBudget, lookup: (key: Uint8Array) => Promise<T | undefined>, size: (item: T) => number): Promise<T[]> {
  const limit = budget.softLimitBytes ?? SOFT_RESPONSE_LIMIT
  const out: T[] = []
  let bytes = 0
  for (const key of keys.slice(0, budget.max)) {
    if (bytes >= limit) break
    const item = await lookup(key)
    if (item === undefined) {
      if (budget.onMiss === 'stop') break
      continue
    }
    out.push(item)
    bytes += size(item)
  }
  return out
}

export function unknownBlock(id: Uint8Array | bigint | number): ChainError {
  const what = id instanceof Uint8Array ? `hash ${bytesToHex(id)}` : `number ${id}`
  return new ChainError('ERR_CHAIN_UNKNOWN_BLOCK', `unknown block: ${what}`)
}

/**
 * Validates a count from the wire (max or skip): a non-negative integer, number or bigint.
 * Returns it as a bigint, capped at `cap` when given.
 */
export function clampCount(name: string, value: number | bigint, cap: number | undefined): bigint {
  let v: bigint
  if (typeof value === 'bigint') v = value
  else if (Number.isInteger(value)) v = BigInt(value)
  else throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `${name} must be an integer, got ${value}`)
  if (v < 0n) throw new ChainError('ERR_CHAIN_INVALID_ARGUMENT', `${name} must be non-negative, got ${v}`)
  return cap !== undefined && v > BigInt(cap) ? BigInt(cap) : v
}
