/**
 * The common-ancestor search against a peer on a fork. The peer is a stand-in serving the
 * headers of a real forked test chain by number (its canonical chain), counting requests;
 * our side is a real Chain on the other branch.
 */
import { bytesToHex } from '@ethereumjs/util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { Chain } from '../../../src/client/blockchain/chain'
import { Config } from '../../../src/client/config'
import { ANCESTOR_SPAN, findAncestor } from '../../../src/client/sync/ancestor'
import { ForkTooDeepError } from '../../../src/client/sync/errors'
import { type ForkedChains, buildForkedChains } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'
import { TestPeer } from '../helpers/peers'

import type { BlockHeader } from '@ethereumjs/block'
import type { Peer } from '../../../src/client/net/peer/peer'

const common = testCommon()
let fork: ForkedChains
let ours: Chain
let theirs: BlockHeader[] // index = number

beforeAll(async () => {
  // Shared 10 blocks; we hold a branch of 80 on top, the peer one of 90: they differ from #11 on.
  fork = await buildForkedChains({ common, shared: 10, branches: [80, 90], txsPerBlock: 1 })
  ours = await Chain.create({ common })
  await ours.putBlocks([...fork.shared, ...fork.branches[0]!.blocks])
  theirs = [fork.genesis, ...fork.shared, ...fork.branches[1]!.blocks].map((b) => b.header)
}, 120_000)

afterAll(async () => {
  await ours.close()
})

function peer(): TestPeer & { requests: number } {
  const p = new TestPeer(new Config({ common })) as TestPeer & { requests: number }
  p.requests = 0
  const eth = {
    closed: false,
    async getBlockHeaders({ block, max, reverse }: { block: bigint; max: number; reverse?: boolean }) {
      p.requests++
      const out: BlockHeader[] = []
      for (let i = 0; i < max; i++) {
        const n = Number(block) + (reverse === true ? -i : i)
        if (n < 0 || n >= theirs.length) break
        out.push(theirs[n]!)
      }
      return out
    },
  }
  p.eth = eth as unknown as Peer['eth']
  return p
}

describe('findAncestor', () => {
  it('finds a fork point deeper than the first span by a bounded binary search', async () => {
    const p = peer()
    const target = theirs[100]!
    const ancestor = await findAncestor(p, target, ours, 1000)
    expect(ancestor.number).toBe(10n)
    expect(bytesToHex(ancestor.hash())).toBe(bytesToHex(fork.shared[9]!.hash()))
    // One span request, the floor, then log2 of the rest.
    expect(p.requests).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(90 - ANCESTOR_SPAN + 1)))
  })

  it('refuses a fork deeper than maxDepth below our head', async () => {
    const err = await findAncestor(peer(), theirs[100]!, ours, 50).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ForkTooDeepError)
    expect((err as Error).message).toMatch(/#40, 50 blocks below our head/)
  })

  it('takes the target parent when we hold it, with no request', async () => {
    const p = peer()
    const ourHead = (await ours.getBlock(ours.headers.height)).header
    const child = { parentHash: ourHead.hash(), number: ourHead.number + 1n } as BlockHeader
    expect(bytesToHex((await findAncestor(p, child, ours, 1000)).hash())).toBe(bytesToHex(ourHead.hash()))
    expect(p.requests).toBe(0)
  })
})
