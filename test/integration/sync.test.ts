/**
 * The synchronizer on both networking paths, with whole clients on loopback: an empty node
 * syncs a chain from several peers at once, follows produced blocks, and switches to a longer
 * fork. Every wait is for an event (CHAIN_UPDATED, SYNC_SYNCHRONIZED), bounded by WAIT_MS.
 */
import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Event } from '../../src/client'
import { type ForkedChains, type TestChain, buildForkedChains, buildTestChain } from '../../src/client/testing/testchain'
import { CHAIN_ID, type NodeOptions, chainWith, meshed, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'

import type { EthereumClient } from '../../src/client'

const BLOCKS = 256
const common = testCommon(CHAIN_ID)
let source: TestChain
let fork: ForkedChains
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common, blocks: BLOCKS, txsPerBlock: 2, seed: 'sync-integration' })
  fork = await buildForkedChains({ common, shared: 8, branches: [3, 5], txsPerBlock: 2 })
}, 120_000)

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

async function node(path: 'p2p' | 'rlpx', opts: NodeOptions = {}): Promise<{ client: EthereumClient; url: string }> {
  const n = await startNode({ common, useP2PServer: path === 'p2p', discV4: false, ...opts })
  clients.push(n.client)
  return n
}

/** Resolves once `client`'s head is `hash` (re-checked on every CHAIN_UPDATED). */
function headIs(client: EthereumClient, hash: Uint8Array): Promise<void> {
  const want = bytesToHex(hash)
  return waitUntil([client.config.events], [Event.CHAIN_UPDATED], () => bytesToHex(client.chain.headers.latest.hash()) === want, {
    timeoutMs: WAIT_MS * 3,
    describe: () => `head #${client.chain.headers.height}, want ${want}`,
  })
}

/** Counts requests of each kind a serving client received. */
function countRequests(client: EthereumClient): Map<string, number> {
  const counts = new Map<string, number>()
  client.config.events.on(Event.PROTOCOL_MESSAGE, (msg) => counts.set(msg.name, (counts.get(msg.name) ?? 0) + 1))
  return counts
}

describe.each(['p2p', 'rlpx'] as const)('sync over %s', (path) => {
  it(`an empty node syncs ${BLOCKS} blocks with transactions from 3 peers, each serving part of it`, async () => {
    // Three servers of one stored chain (serving only reads it; building it once saves seconds).
    const served = await chainWith(common, source.blocks, source.receipts)
    const servers = []
    for (let i = 0; i < 3; i++) servers.push(await node(path, { chain: served, sync: false }))
    const requests = servers.map((s) => countRequests(s.client))
    // Small batches and two requests per peer in flight: many jobs, spread over every peer.
    // The synchronizer starts once all three are peers, so that every one can take work from the start.
    const syncing = await node(path, { bootnodes: servers.map((s) => s.url), sync: false, syncHeaderBatch: 32, syncBodyBatch: 16, syncReceiptBatch: 16, syncRequestsPerPeer: 2 })
    await waitUntil([syncing.client.config.events], [Event.POOL_PEER_ADDED], () => syncing.client.service.pool.size === 3)
    const started = syncing.client.config.events.waitFor(Event.SYNC_STARTED, { timeoutMs: WAIT_MS })
    const synced = syncing.client.config.events.waitFor(Event.SYNC_SYNCHRONIZED, { timeoutMs: WAIT_MS * 3 })
    syncing.client.synchronizer.start()
    const [info] = await started
    expect(info.target).toBe(BigInt(BLOCKS))
    const [done] = await synced
    expect(done.height).toBe(BigInt(BLOCKS))
    expect(bytesToHex(done.hash)).toBe(bytesToHex(source.blocks[BLOCKS - 1]!.hash()))
    expect(bytesToHex(syncing.client.chain.headers.latest.hash())).toBe(bytesToHex(source.blocks[BLOCKS - 1]!.hash()))
    // Every server answered headers, bodies and receipts; the sync's own account agrees.
    for (const counts of requests) {
      expect(counts.get('GetBlockBodies') ?? 0).toBeGreaterThan(0)
      expect(counts.get('GetReceipts') ?? 0).toBeGreaterThan(0)
    }
    const stats = [...syncing.client.synchronizer.stats.values()]
    expect(stats).toHaveLength(3)
    expect(stats.reduce((n, s) => n + s.bodies, 0)).toBe(BLOCKS)
    expect(stats.reduce((n, s) => n + s.receipts, 0)).toBe(BLOCKS)
    // The state is the executed one: account nonces add up to the transactions synced.
    const block = await syncing.client.chain.getBlock(BigInt(BLOCKS))
    expect(bytesToHex(block.header.stateRoot)).toBe(bytesToHex(source.blocks[BLOCKS - 1]!.header.stateRoot))
  })

  it('follows 10 blocks as the producing peer makes them', async () => {
    const producerChain = await chainWith(common, source.blocks.slice(0, 16), source.receipts.slice(0, 16))
    const producer = await node(path, { chain: producerChain, sync: false })
    const follower = await node(path, { bootnodes: [producer.url] })
    await follower.client.config.events.waitFor(Event.SYNC_SYNCHRONIZED, { timeoutMs: WAIT_MS, filter: (i) => i.height === 16n })
    for (let i = 0; i < 10; i++) {
      const built = await devProduce(producer.client)
      await headIs(follower.client, built)
    }
    expect(follower.client.chain.headers.height).toBe(26n)
  })

  it('switches to a longer fork (5 blocks over our 3), and a fork as long as ours does not move it', async () => {
    const [a, b] = fork.branches
    const onA = await chainWith(common, [...fork.shared, ...a!.blocks], [...fork.sharedReceipts, ...a!.receipts])
    const onB = await chainWith(common, [...fork.shared, ...b!.blocks], [...fork.sharedReceipts, ...b!.receipts])
    const nodeA = await node(path, { chain: onA })
    const updated = nodeA.client.config.events.waitFor(Event.CHAIN_UPDATED, { timeoutMs: WAIT_MS * 2 })
    const nodeB = await node(path, { chain: onB, bootnodes: [nodeA.url] })
    const [info] = await updated
    expect(info.height).toBe(13n)
    expect(info.reorged).toBe(3)
    expect(bytesToHex(nodeA.client.chain.headers.latest.hash())).toBe(bytesToHex(b!.blocks[4]!.hash()))
    await meshed([nodeA.client, nodeB.client])
    // B never moved: A's chain was shorter.
    expect(bytesToHex(nodeB.client.chain.headers.latest.hash())).toBe(bytesToHex(b!.blocks[4]!.hash()))
  })

  it('keeps its own chain against a fork of equal length', async () => {
    const tie = await buildForkedChains({ common, shared: 8, branches: [3, 3], txsPerBlock: 1 })
    const mine = await chainWith(common, [...tie.shared, ...tie.branches[0]!.blocks], [...tie.sharedReceipts, ...tie.branches[0]!.receipts])
    const theirs = await chainWith(common, [...tie.shared, ...tie.branches[1]!.blocks], [...tie.sharedReceipts, ...tie.branches[1]!.receipts])
    const x = await node(path, { chain: mine })
    const y = await node(path, { chain: theirs, bootnodes: [x.url] })
    const bothSynced = Promise.all([x, y].map((n) => n.client.config.events.waitFor(Event.SYNC_SYNCHRONIZED, { timeoutMs: WAIT_MS })))
    await bothSynced
    expect(bytesToHex(x.client.chain.headers.latest.hash())).toBe(bytesToHex(tie.branches[0]!.blocks[2]!.hash()))
    expect(bytesToHex(y.client.chain.headers.latest.hash())).toBe(bytesToHex(tie.branches[1]!.blocks[2]!.hash()))
  })
})

/** One block from the node's pool, as its dev producer would make it. */
async function devProduce(client: EthereumClient): Promise<Uint8Array> {
  const { DevBlockProducer } = await import('../../src/client/service/devproducer')
  const producer = new DevBlockProducer({ chain: client.chain, txPool: client.service.txPool, periodMs: 60_000, onError: (err) => { throw err } })
  return (await producer.produce()).block.hash()
}

describe.each(['p2p', 'rlpx'] as const)('transaction propagation over %s', (path) => {
  it('a transaction added at one end of a 5-node line (each node linked only to its neighbours) reaches every node', async () => {
    const line: { client: EthereumClient; url: string }[] = []
    for (let i = 0; i < 5; i++) line.push(await node(path, { bootnodes: i === 0 ? [] : [line[i - 1]!.url] }))
    for (let i = 0; i < 5; i++) {
      const want = i === 0 || i === 4 ? 1 : 2
      await waitUntil([line[i]!.client.config.events], [Event.POOL_PEER_ADDED], () => line[i]!.client.service.pool.size === want)
    }
    const { makeTestTx } = await import('../../src/client/testing/testchain')
    const { testAccounts } = await import('../../src/chain-config')
    const tx = makeTestTx(common, { kind: '1559-transfer', from: testAccounts[3]!, nonce: 0n, seed: 'line', index: 0 })
    const arrived = line.map(({ client }) =>
      waitUntil([client.service.txPool], ['added'], () => client.service.txPool.has(tx.hash()), { describe: () => `pool of ${client.service.txPool.size}` }),
    )
    expect(await line[0]!.client.service.txPool.add(tx)).toBe(true)
    await Promise.all(arrived)
    // No node is linked to a node other than its neighbours: the transaction travelled hop by hop.
    expect(line.map(({ client }) => client.service.pool.size)).toEqual([1, 2, 2, 2, 1])
  })
})
