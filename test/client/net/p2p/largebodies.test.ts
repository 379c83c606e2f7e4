import { RLP } from '@ethereumjs/rlp'
import { afterEach, describe, expect, it } from 'vitest'

import { Chain } from '../../../../src/client/blockchain/chain'
import { bodyMatchesHeader } from '../../../../src/client/blockchain/verify'
import { buildLargeBlock } from '../../../../src/client/testing/largeblock'
import { Event } from '../../../../src/client/types'
import { type P2PNode, startP2PNode, waitEvent } from './nodes'

const MiB = 1024 * 1024
/** Bound for the near-limit case (block building dominates; see the test). */
const BIG_BLOCK_TEST_TIMEOUT_MS = 180_000
const nodes: P2PNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** Serves one block of a `targetBytes` body from one node and fetches its body from another over the P2P stack. */
async function fetchLargeBody(targetBytes: number): Promise<{ size: number }> {
  const large = await buildLargeBlock({ targetBytes, seed: `h8-${targetBytes}` })
  const [block] = large.blocks
  const source = await Chain.create({ common: large.common })
  await source.putBlocks(large.blocks, large.receipts)
  const server = await startP2PNode({ chain: source })
  nodes.push(server)
  const client = await startP2PNode({ chain: await Chain.create({ common: large.common }), bootnodes: [server.url] })
  nodes.push(client)
  const [peer] = await waitEvent(client, Event.PEER_CONNECTED)
  const bodies = await peer.eth!.getBlockBodies({ hashes: [block.hash()] })
  expect(bodies).toHaveLength(1)
  const want = RLP.encode(block.raw().slice(1) as Uint8Array[][])
  const got = RLP.encode(bodies[0] as Uint8Array[][])
  expect(got.length).toBe(want.length)
  expect(Buffer.compare(got, want)).toBe(0)
  expect(bodyMatchesHeader(block.header, bodies[0])).toBe(true)
  return { size: got.length }
}

describe('large BlockBodies over the P2P stack', () => {
  it('delivers a BlockBodies reply over 1 MiB intact', async () => {
    const { size } = await fetchLargeBody(Math.floor(1.5 * MiB))
    expect(size).toBeGreaterThan(MiB)
  })

  // Building and executing a ~10 MiB block with the VM takes a while on a slow machine; the transfer is the quick part.
  it('delivers a BlockBodies reply near the 10 MiB message limit intact', { timeout: BIG_BLOCK_TEST_TIMEOUT_MS }, async () => {
    const { size } = await fetchLargeBody(Math.floor(9.75 * MiB))
    expect(size).toBeGreaterThan(9.5 * MiB)
    expect(size).toBeLessThan(10 * MiB)
  })
})
