/**
 * The legacy path end to end: EthereumClients on 127.0.0.1 with ephemeral
 * ports find each other through DPT, connect over devp2p RLPx, negotiate
 * eth/70 (our own devp2p capability), exchange Status, and one fetches a
 * real 64-block chain (headers, bodies, receipts) from the other.
 */
import { createBlockFromBytesArray } from '@ethereumjs/block'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { hasBlockRange, statusHead } from '../../src/client/net/protocol/ethstatus'
import { buildTestChain, verifyReceipts } from '../../src/client/testing/testchain'
import { Event } from '../../src/client'
import { chainWith, enodeId, nextPeer, resourceCounts, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, collect } from '../client/helpers/waits'

import type { Block, BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { EthereumClient, Peer } from '../../src/client'
import type { TestChain } from '../../src/client/testing/testchain'

const BLOCKS = 64
/** Headers and bodies are fetched in batches so several requests are in flight at once. */
const BATCH = 16

let source: TestChain
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 3 })
}, 120_000)

const stops: (() => void)[] = []

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

async function node(opts: Parameters<typeof startNode>[0] = {}): Promise<{ client: EthereumClient; url: string }> {
  const n = await startNode(opts)
  clients.push(n.client)
  return n
}

async function fetchHeaders(peer: Peer): Promise<BlockHeader[]> {
  const eth = peer.eth
  if (eth === undefined) throw new Error('peer has no eth session')
  const batches: Promise<BlockHeader[]>[] = []
  for (let from = 0; from <= BLOCKS; from += BATCH) {
    batches.push(eth.getBlockHeaders({ block: BigInt(from), max: Math.min(BATCH, BLOCKS + 1 - from) }))
  }
  return (await Promise.all(batches)).flat()
}

async function fetchReceipts(peer: Peer, headers: BlockHeader[]): Promise<Uint8Array[][]> {
  const eth = peer.eth
  if (eth === undefined) throw new Error('peer has no eth session')
  const batches: Promise<Uint8Array[][]>[] = []
  for (let i = 0; i < headers.length; i += BATCH) {
    const batch = headers.slice(i, i + BATCH)
    batches.push(eth.getReceipts({ hashes: batch.map((h) => h.hash()), headers: batch }))
  }
  return (await Promise.all(batches)).flat()
}

async function fetchBodies(peer: Peer, hashes: Uint8Array[]): Promise<BlockBodyBytes[]> {
  const eth = peer.eth
  if (eth === undefined) throw new Error('peer has no eth session')
  const batches: Promise<BlockBodyBytes[]>[] = []
  for (let i = 0; i < hashes.length; i += BATCH) batches.push(eth.getBlockBodies({ hashes: hashes.slice(i, i + BATCH) }))
  return (await Promise.all(batches)).flat()
}

describe('legacy RLPx path', () => {
  it('second node bootstraps from the first over eth/70 and fetches every header, body and receipt of a 64-block chain', async () => {
    const common = testCommon()
    const a = await node({ chain: await chainWith(common, source.blocks, source.receipts), common })
    const b = await node({ common, bootnodes: [a.url] })
    const aId = enodeId(a.url)
    const peer = await nextPeer(b.client, aId)

    expect(peer.id).toBe(aId)
    expect(peer.transport).toBe('rlpx')
    // eth/69+ travel as our own devp2p capability (devp2p's ETH stops at eth/68).
    expect(peer.eth?.version).toBe(70)
    // Status exchanged (eth/69+ form): the remote serves genesis..head of the source chain.
    const status = peer.eth!.status
    expect(status.networkId).toBe(1234n)
    expect(bytesToHex(status.genesisHash)).toBe(bytesToHex(source.genesis.hash()))
    expect(hasBlockRange(status) && [status.earliestBlock, status.latestBlock]).toEqual([0n, BigInt(BLOCKS)])
    expect(bytesToHex(statusHead(status).hash)).toBe(bytesToHex(source.blocks[BLOCKS - 1].hash()))
    expect(peer.blockRange?.latestBlock).toBe(BigInt(BLOCKS))
    expect(b.client.service.pool.contains(aId)).toBe(true)

    const headers = await fetchHeaders(peer)
    expect(headers).toHaveLength(BLOCKS + 1)
    const expected: Block[] = [source.genesis, ...source.blocks]
    headers.forEach((h, i) => {
      expect(h.number).toBe(BigInt(i))
      expect(bytesToHex(h.hash())).toBe(bytesToHex(expected[i].hash()))
    })

    const bodies = await fetchBodies(peer, headers.slice(1).map((h) => h.hash()))
    expect(bodies).toHaveLength(BLOCKS)
    let txs = 0
    for (const [i, body] of bodies.entries()) {
      const header = headers[i + 1]
      // Rebuild the block from the fetched header and body: its transactions must hash to the header's root.
      const block = createBlockFromBytesArray([header.raw(), ...body] as Parameters<typeof createBlockFromBytesArray>[0], { common })
      expect(await block.transactionsTrieIsValid()).toBe(true)
      expect(equalsBytes(await block.genTxTrie(), header.transactionsTrie)).toBe(true)
      expect(bytesToHex(block.hash())).toBe(bytesToHex(source.blocks[i].hash()))
      expect(block.transactions.length).toBe(source.blocks[i].transactions.length)
      txs += block.transactions.length
    }
    expect(txs).toBe(BLOCKS * 3)

    // Receipts travel bloomless on eth/69+; the codec rebuilds the consensus form, checked here against every root.
    const receipts = await fetchReceipts(peer, headers.slice(1))
    expect(receipts).toHaveLength(BLOCKS)
    receipts.forEach((list, i) => {
      expect(() => verifyReceipts(headers[i + 1], list)).not.toThrow()
      expect(list.map(bytesToHex)).toEqual(source.receipts[i].map(bytesToHex))
    })

    // The serving side saw the same session from its end.
    // (Which side dialed depends on the ids: the lower id dials first.)
    const served = a.client.service.pool.peers.find((p) => p.id === enodeId(b.url))
    expect(served?.inbound).toBe(!peer.inbound)
    expect(a.client.service.pool.best()?.id).toBe(enodeId(b.url))
    expect(b.client.service.pool.idle()?.id).toBe(aId)
  })

  it.each([
    ['network id', { chainId: 1235 }, /network ?id/i],
    ['genesis', { chainId: 1234, gasLimit: 29_000_000n }, /genesis/i],
  ] as const)('refuses a peer with another %s with a PEER_ERROR saying why', async (_what, chain, reason) => {
    const a = await node({ common: testCommon() })
    const otherCommon = testCommon(chain.chainId, 'gasLimit' in chain ? chain.gasLimit : undefined)
    const connected = collect<[Peer]>(a.client.config.events, Event.PEER_CONNECTED)
    stops.push(connected.stop)
    const errorAtA = a.client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })
    const b = await node({ common: otherCommon, bootnodes: [a.url] })
    const [err, peer] = await errorAtA
    expect(peer.id).toBe(enodeId(b.url))
    expect(err.message).toMatch(reason)
    expect(connected.items).toEqual([])
    expect(a.client.service.pool.size).toBe(0)
    expect(b.client.service.pool.size).toBe(0)
  })

  it('stop leaves no socket, timer or listener behind', async () => {
    const before = resourceCounts()
    const common = testCommon()
    const a = await node({ chain: await chainWith(common, source.blocks.slice(0, 4)), common })
    const b = await node({ common, bootnodes: [a.url] })
    const peer = await nextPeer(b.client, enodeId(a.url))
    expect(await peer.latest()).toBeDefined()
    expect(resourceCounts()).not.toEqual(before)

    await b.client.stop()
    await a.client.stop()
    await b.client.stop() // idempotent
    // Nothing the clients opened is left: no kind of resource outnumbers the count from before they existed.
    const after = resourceCounts()
    for (const [kind, n] of after) expect({ kind, n }).toEqual({ kind, n: Math.min(n, before.get(kind) ?? 0) })
    expect(a.client.config.events.totalListenerCount()).toBe(0)
    expect(b.client.config.events.totalListenerCount()).toBe(0)
  })
})
