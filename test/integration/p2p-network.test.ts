import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Common } from '../../src/chain-config'
import { Config, EthereumClient, Event, type Peer } from '../../src/client'
import { bodyMatchesHeader } from '../../src/client/blockchain/verify'
import { P2PPeer } from '../../src/client/net/peer/p2ppeer'
import { StatusMismatchError } from '../../src/client/net/protocol/errors'
import { P2PServer } from '../../src/client/net/server/p2pserver'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { expectResourcesBackTo } from '../p2p/stack/helpers'

import type { ConfigOptions } from '../../src/client'

/** Bound on every wait: loopback needs far less; a broken build fails with a message instead of hanging. */
const WAIT_MS = 30_000
const CHAIN_ID = 1234
const BLOCKS = 24

let source: TestChain
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: Common.custom({ chainId: CHAIN_ID, name: 'testnet' }), blocks: BLOCKS, txsPerBlock: 3, seed: 'p2p-network' })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

/** DESIGN section 5's seed usage, on loopback with ephemeral ports; resolves once the node listens. */
async function startClient(opts: ConfigOptions & { gasLimit?: bigint } = {}): Promise<{ client: EthereumClient; url: string }> {
  const { gasLimit, ...rest } = opts
  const common = Common.custom({ chainId: CHAIN_ID, name: 'testnet', gasLimit })
  const config = new Config({ common, useP2PServer: true, port: 0, discPort: 0, bindAddress: '127.0.0.1', maxPeers: 25, ...rest })
  const client = await EthereumClient.create({ config })
  clients.push(client)
  await client.open()
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
  await client.start()
  const [{ transport, url }] = await listening
  expect(transport).toBe('p2p')
  return { client, url }
}

function idOf(url: string): string {
  return url.slice('enode://'.length, url.indexOf('@'))
}

/** Resolves once every client's pool holds exactly the other clients, re-checked on pool changes. */
function meshed(all: EthereumClient[], ids: string[]): Promise<void> {
  const ok = (): boolean =>
    all.every((c, i) => c.service.pool.peers.map((p) => p.id).sort().join() === ids.filter((_, j) => j !== i).sort().join())
  if (ok()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const events = [Event.POOL_PEER_ADDED, Event.POOL_PEER_REMOVED] as const
    const check = (): void => {
      if (!ok()) return
      done()
      resolve()
    }
    const done = (): void => {
      clearTimeout(timer)
      for (const c of all) for (const e of events) c.config.events.off(e, check)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`clients did not mesh within ${WAIT_MS} ms: ${all.map((c) => c.service.pool.size).join('/')}`))
    }, WAIT_MS)
    for (const c of all) for (const e of events) c.config.events.on(e, check)
  })
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
    expect(seen).toMatchObject({ id: idOf(b.url), transport: 'p2p' })
    const c = await startClient({ bootnodes: [boot.url] })
    const all = [boot.client, b.client, c.client]
    await meshed(all, [boot.url, b.url, c.url].map(idOf))

    for (const fetcher of [b.client, c.client]) {
      const peer = fetcher.service.pool.peers.find((p) => p.id === idOf(boot.url)) as Peer
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
    expect(peer.id).toBe(idOf(other.url))
    expect(boot.client.service.pool.size).toBe(0)
    expect(other.client.service.pool.size).toBe(0)
  })

  it("stop leaves no socket, timer or bus listener behind", async () => {
    const baseline = process.getActiveResourcesInfo()
    const boot = await startClient()
    const b = await startClient({ bootnodes: [boot.url] })
    await meshed([boot.client, b.client], [boot.url, b.url].map(idOf))
    for (const client of [b.client, boot.client]) {
      await client.stop()
      await client.stop()
      expect(client.config.events.totalListenerCount()).toBe(0)
    }
    clients.splice(0)
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })
})
