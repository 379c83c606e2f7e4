import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import type { Block, BlockHeader } from '@ethereumjs/block'

/**
 * The fork choice of a chain that is PoS from genesis without a beacon chain to ask: the
 * longest chain wins, and a chain only as long as ours does not replace it (ties keep ours),
 * so two nodes that produced competing blocks of equal height do not flip-flop between them.
 * Total difficulty is 0 everywhere on such a chain, so height is all there is to compare.
 */
export function replacesHead(current: BlockHeader, candidate: BlockHeader): boolean {
  if (equalsBytes(current.hash(), candidate.hash())) return false
  return candidate.number > current.number
}

/** How the canonical chain changed between two heads. */
export interface HeadDiff {
  /** Blocks that became canonical, lowest first. */
  added: Block[]
  /** Blocks that stopped being canonical, lowest first. */
  removed: Block[]
}

/**
 * Walks both heads back by parent hash to their common ancestor. `known` holds blocks already
 * at hand (those just put), so a chain that only grew costs no lookups; `lookup` fetches any
 * other stored block, canonical or not. The walk is as long as the reorg (plus the blocks added).
 */
export async function headDiff(oldHead: Block, newHead: Block, known: ReadonlyMap<string, Block>, lookup: (hash: Uint8Array) => Promise<Block>): Promise<HeadDiff> {
  const parent = async (b: Block): Promise<Block> => known.get(bytesToHex(b.header.parentHash)) ?? lookup(b.header.parentHash)
  const added: Block[] = []
  const removed: Block[] = []
  let a = newHead
  let b = oldHead
  while (a.header.number > b.header.number) {
    added.push(a)
    a = await parent(a)
  }
  while (b.header.number > a.header.number) {
    removed.push(b)
    b = await parent(b)
  }
  while (!equalsBytes(a.hash(), b.hash())) {
    added.push(a)
    removed.push(b)
    a = await parent(a)
    b = await parent(b)
  }
  return { added: added.reverse(), removed: removed.reverse() }
}
