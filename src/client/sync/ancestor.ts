import { equalsBytes } from '@ethereumjs/util'

import { PeerDisconnectedError } from '../net/protocol/errors'

import { ForkTooDeepError } from './errors'
import { checkRun } from './headerchain'

import type { BlockHeader } from '@ethereumjs/block'
import type { Chain } from '../blockchain/chain'
import type { Peer } from '../net/peer/peer'

/**
 * Headers of the first ancestor request: the peer's chain just below our head, newest first.
 * A target that extends our head, or forks a few blocks below it (the usual reorg), finds the
 * common ancestor in this one request.
 */
export const ANCESTOR_SPAN = 64

/**
 * The highest block of `target`'s chain (as `peer` serves it) that we hold canonically: where
 * the sync of that chain starts. First the target's parent (we may hold it already), then one
 * request for the ANCESTOR_SPAN headers below our head, then a binary search by number down
 * to `maxDepth` below our head, comparing the peer's header at each number with ours. Throws
 * ForkTooDeepError (naming `limit`, what set the depth) when even that deep the chains
 * differ, a SyncPeerError for a bad reply.
 */
export async function findAncestor(peer: Peer, target: BlockHeader, chain: Chain, maxDepth: number, limit = 'syncMaxForkDepth'): Promise<BlockHeader> {
  if (await chain.hasBlock(target.parentHash)) {
    const parent = (await chain.getBlock(target.parentHash)).header
    if (await isOurs(chain, parent)) return parent
  }
  const height = chain.headers.height
  const top = height < target.number - 1n ? height : target.number - 1n
  // Both ends agreed on the genesis in the Status exchange: nothing to ask.
  if (top === 0n) return chain.genesis.header
  const count = top + 1n < BigInt(ANCESTOR_SPAN) ? Number(top + 1n) : ANCESTOR_SPAN
  const span = await headersOf(peer, { first: top, count, reverse: true })
  for (const header of span) {
    if (!(await isOurs(chain, header))) continue
    if (height - header.number > BigInt(maxDepth)) {
      throw new ForkTooDeepError(`${peer.toString()}'s chain forks from ours at #${header.number}, ${height - header.number} blocks below our head, deeper than ${maxDepth} (${limit})`)
    }
    return header
  }
  // Not within the span: the block at `lo` must be common, the one at `hi` is not.
  const floor = height > BigInt(maxDepth) ? height - BigInt(maxDepth) : 0n
  let lo = floor
  let hi = top - BigInt(count) + 1n
  const [atFloor] = await headersOf(peer, { first: lo, count: 1 })
  if (!(await isOurs(chain, atFloor!))) {
    throw new ForkTooDeepError(`${peer.toString()}'s chain differs from ours at #${lo}, ${maxDepth} blocks below our head (${limit})`)
  }
  let ancestor = atFloor!
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n
    const [header] = await headersOf(peer, { first: mid, count: 1 })
    if (await isOurs(chain, header!)) {
      lo = mid
      ancestor = header!
    } else hi = mid
  }
  return ancestor
}

/** Whether `header` is the canonical block at its height on our chain. */
async function isOurs(chain: Chain, header: BlockHeader): Promise<boolean> {
  const ours = await chain.canonicalHash(header.number)
  return ours !== undefined && equalsBytes(ours, header.hash())
}

/** A checked run of headers from the peer's canonical chain (all of them: the peer claims a longer chain). */
async function headersOf(peer: Peer, req: { first: bigint; count: number; reverse?: boolean }): Promise<BlockHeader[]> {
  const eth = peer.eth
  if (eth === undefined || eth.closed) throw new PeerDisconnectedError(`${peer.toString()} has no eth session`)
  const headers = await eth.getBlockHeaders({ block: req.first, max: req.count, reverse: req.reverse })
  checkRun(headers, req)
  return headers
}
