import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { type EthereumClient, Event, type Peer } from '../../src/client'
import { bodyMatchesHeader } from '../../src/client/blockchain/verify'
import { P2PPeer } from '../../src/client/net/peer/p2ppeer'
import { StatusMismatchError } from '../../src/client/net/protocol/errors'
import { P2PServer } from '../../src/client/net/server/p2pserver'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { expectResourcesBackTo } from '../p2p/stack/helpers'
import { type NodeOptions, enodeId, meshed, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS } from '../client/helpers/waits'

const CHAIN_ID = 1234
const BLOCKS = 24

let source: TestChain
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(CHAIN_ID), blocks: BLOCKS, txsPerBlock: 3, seed: 'p2p-network' })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

/** The README's usage (`useP2PServer: true`), on loopback with ephemeral ports. */
async function startClient(opts: NodeOptions & { gasLimit?: bigint } = {}): Promise<{ client: EthereumClient; url: string }> {
  const { gasLimit, ...rest } = opts
  const node = await startNode({ common: testCommon(CHAIN_ID, gasLimit), useP2PServer: true, maxPeers: 25, ...rest })
  clients.push(node.client)
  expect(node.client.config.server.name).toBe('p2p')
  return node
}

describe('three P2P clients (useP2PServer: true)', () => {
  it('find each other through one bootnode and fetch headers and bodies over streams', async () => {
    const boot = await startClient()
    await boot.client.chain.putBlocks(source.blocks, source.receipts)
    expect(boot.client.config.server).toBeInstanceOf(P2PServer)
    // Once the bootnode's discovery table holds b, its Neighbours answer to c names b.
    const bootKnowsB = boot.client.config.events.waitFor(Event.PEER_DISCOVERED, { timeoutMs: WAIT_MS })
    const b = await startClient({ bootnodes: [boot.url] })
    const [seen] = await bootKnowsB
    expect(seen).toMatchObject({ id: enodeId(b.url), transport: 'p2p' })
    const c = await startClient({ bootnodes: [boot.url] })
    const all = [boot.client, b.client, c.client]
    await meshed(all)

    for (const fetcher of [b.client, c.client]) {
      const peer = fetcher.service.pool.peers.find((p) => p.id === enodeId(boot.url)) as Peer
      expect(peer).toBeInstanceOf(P2PPeer)
      expect(peer.transport).toBe('p2p')
      const headers = await peer.eth!.getBlockHeaders({ block: 1n, max: BLOCKS })
      expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(source.blocks.map((blk) => bytesToHex(blk.hash())))
      const bodies = await peer.eth!.getBlockBodies({ hashes: headers.map((h) => h.hash()) })
      expect(bodies).toHaveLength(BLOCKS)
      bodies.forEach((body, i) => expect(bodyMatchesHeader(headers[i], body)).toBe(true))
      const receipts = await peer.eth!.getReceipts({ hashes: headers.map((h) => h.hash()) })
      expect(receipts.map((r) => r.map(bytesToHex))).toEqual(source.receipts.map((r) => r.map(bytesToHex)))
    }
  })

  it('resolves 32 concurrent GetBlockHeaders on one peer, each with its own headers', async () => {
    const boot = await startClient()
    await boot.client.chain.putBlocks(source.blocks, source.receipts)
    const b = await startClient({ bootnodes: [boot.url] })
    const [peer] = await b.client.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: WAIT_MS })
    const asks = Array.from({ length: 32 }, (_, i) => ({ block: BigInt(1 + (i % BLOCKS)), max: 1 + (i % 5), reverse: i % 3 === 0 }))
    const results = await Promise.all(asks.map((a) => peer.eth!.getBlockHeaders(a)))
    results.forEach((headers, i) => {
      const { block, max, reverse } = asks[i]
      const want: string[] = []
      for (let k = 0; k < max; k++) {
        const n = reverse ? Number(block) - k : Number(block) + k
        if (n < 0 || n > BLOCKS) break
        want.push(bytesToHex(n === 0 ? source.genesis.hash() : source.blocks[n - 1].hash()))
      }
      expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(want)
    })
  })

  it('refuses a client on another genesis with a clear reason', async () => {
    const boot = await startClient()
    const refused = boot.client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })
    const other = await startClient({ bootnodes: [boot.url], gasLimit: 31_000_000n })
    const [errOther] = await other.client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })
    const [errBoot, peer] = await refused
    for (const err of [errBoot, errOther]) {
      expect(err).toBeInstanceOf(StatusMismatchError)
      expect(err.message).toMatch(/genesis/)
    }
    expect(peer.id).toBe(enodeId(other.url))
    expect(boot.client.service.pool.size).toBe(0)
    expect(other.client.service.pool.size).toBe(0)
  })

  it("stop leaves no socket, timer or bus listener behind", async () => {
    const baseline = process.getActiveResourcesInfo()
    const boot = await startClient()
    const b = await startClient({ bootnodes: [boot.url] })
    await meshed([boot.client, b.client])
    for (const client of [b.client, boot.client]) {
      await client.stop()
      await client.stop()
      expect(client.config.events.totalListenerCount()).toBe(0)
    }
    clients.splice(0)
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })
})
