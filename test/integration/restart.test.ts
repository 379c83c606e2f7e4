/**
 * A node with a dataDir across a restart, on both networking paths, with the real
 * Synchronizer: it syncs 128 blocks from a peer, stops, and starts again on the same dataDir
 * without bootnodes. It comes back with the same enode id, head and state, redials the peer
 * from its node table, serves what it served before, and syncs on from its head (only the new
 * blocks) once the peer has moved ahead.
 */
import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { testAccounts } from '../../src/chain-config'
import { Event } from '../../src/client'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { tempDir } from '../utils/disk'
import { CHAIN_ID, type NodeOptions, chainWith, enodeId, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'

import type { BlockHeader } from '@ethereumjs/block'
import type { EthereumClient } from '../../src/client'

const SYNCED = 128
const AHEAD = 160
const common = testCommon(CHAIN_ID)
let source: TestChain
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common, blocks: AHEAD, txsPerBlock: 2, seed: 'restart' })
}, 120_000)

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

const hex = (b: { hash(): Uint8Array }): string => bytesToHex(b.hash())

/** Resolves once `client`'s head is block `height` of the source chain. */
function headIs(client: EthereumClient, height: number): Promise<void> {
  const want = hex(source.blocks[height - 1]!)
  return waitUntil([client.config.events], [Event.CHAIN_UPDATED], () => hex(client.chain.headers.latest) === want, {
    timeoutMs: WAIT_MS * 3,
    describe: () => `head #${client.chain.headers.height}, want #${height}`,
  })
}

/** What a node serves of blocks 1..SYNCED, as hex: headers, bodies, receipts. */
async function served(get: { headers: () => Promise<BlockHeader[]>; bodies: (h: Uint8Array[]) => Promise<unknown[]>; receipts: (h: Uint8Array[]) => Promise<unknown[]> }): Promise<string> {
  const headers = await get.headers()
  const hashes = headers.map((h) => h.hash())
  return JSON.stringify({ headers: headers.map(hex), bodies: asHex(await get.bodies(hashes)), receipts: asHex(await get.receipts(hashes)) })
}

/** Nested byte arrays (Buffers or Uint8Arrays, as each path decodes them) as nested hex strings. */
function asHex(v: unknown): unknown {
  if (v instanceof Uint8Array) return bytesToHex(v)
  return Array.isArray(v) ? v.map(asHex) : v
}

describe.each(['p2p', 'rlpx'] as const)('restart on a dataDir over %s', (path) => {
  it(`syncs ${SYNCED} blocks, restarts with the same identity, head and state, serves them, and syncs on to ${AHEAD}`, async () => {
    const dir = tempDir(`restart-${path}`)
    try {
      const start = async (opts: NodeOptions): Promise<{ client: EthereumClient; url: string }> => {
        const n = await startNode({ common, useP2PServer: path === 'p2p', discV4: false, ...opts })
        clients.push(n.client)
        return n
      }
      const peer = await start({ chain: await chainWith(common, source.blocks.slice(0, SYNCED), source.receipts.slice(0, SYNCED)), sync: false })

      // First run: an empty dataDir, the peer as its bootnode.
      const first = await start({ dataDir: dir.path, bootnodes: [peer.url] })
      await headIs(first.client, SYNCED)
      const head = first.client.chain.headers.latest
      const accounts = await Promise.all(testAccounts.map((a) => first.client.chain.getAccount(a.address)))
      const local = first.client.chain
      const before = await served({
        headers: () => local.getHeaders(1n, SYNCED, 0, false),
        bodies: (h) => local.getBodies(h),
        receipts: (h) => local.getReceipts(h),
      })
      await first.client.stop()
      clients.splice(clients.indexOf(first.client), 1)

      // The peer moves ahead while the node is down.
      await peer.client.chain.putBlocks(source.blocks.slice(SYNCED), source.receipts.slice(SYNCED))

      // Second run: no bootnodes. Its chain opens at the head it stopped at, before any network.
      let reopened: BlockHeader | undefined
      const second = await start({ dataDir: dir.path, beforeStart: (c) => void (reopened = c.chain.headers.latest) })
      // Same node id (the port is a new ephemeral one).
      expect(enodeId(second.url)).toBe(enodeId(first.url))
      expect(hex(reopened!)).toBe(hex(head))
      expect(bytesToHex(reopened!.stateRoot)).toBe(bytesToHex(source.blocks[SYNCED - 1]!.header.stateRoot))
      expect(await Promise.all(testAccounts.map((a) => second.client.chain.getAccount(a.address, head)))).toEqual(accounts)

      // Another node asks it over the network for what it served before the restart.
      const asking = await start({ sync: false, bootnodes: [second.url] })
      const secondId = bytesToHex(second.client.config.nodeId).slice(2)
      await waitUntil([asking.client.config.events], [Event.POOL_PEER_ADDED], () => asking.client.service.pool.peers.some((p) => p.id === secondId))
      const remote = asking.client.service.pool.peers.find((p) => p.id === secondId)!.eth!
      const after = await served({
        headers: () => remote.getBlockHeaders({ block: 1n, max: SYNCED }),
        bodies: (hashes) => remote.getBlockBodies({ hashes }),
        receipts: (hashes) => remote.getReceipts({ hashes }),
      })
      expect(after === before, 'served after the restart as before it').toBe(true)

      // It redials the peer from its node table and syncs on from its head: only the new blocks.
      await headIs(second.client, AHEAD)
      expect(bytesToHex(second.client.chain.headers.latest.stateRoot)).toBe(bytesToHex(source.blocks[AHEAD - 1]!.header.stateRoot))
      const fetched = [...second.client.synchronizer.stats.values()].reduce((n, s) => n + s.bodies, 0)
      expect(fetched).toBe(AHEAD - SYNCED)
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.stop()))
      dir.remove()
    }
  })
})
