/**
 * FullEthereumService answers eth requests from its Chain and TxPool, takes
 * in gossiped transactions, and bans peers that break the protocol. Two real
 * clients over devp2p RLPx on 127.0.0.1; the requesting side is a client too.
 */
import { once } from 'node:events'

import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { testAccounts } from '../../../src/chain-config'
import { Event, FullEthereumService, EthProtocol } from '../../../src/client'
import { buildTestChain, makeTestTx } from '../../../src/client/testing/testchain'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { EthereumClient, Peer } from '../../../src/client'
import type { TestChain } from '../../../src/client/testing/testchain'

const BLOCKS = 8
let source: TestChain
const clients: EthereumClient[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 2, seed: 'service' })
}, 60_000)

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

function poolTx(index: number): TypedTransaction {
  return makeTestTx(testCommon(), { kind: '1559-transfer', from: testAccounts[10], nonce: BigInt(100 + index), seed: 'pool', index })
}

/** A serves the source chain; B connects to it. Returns B's view of A and A's view of B. */
async function pair(serverOpts: { maxServeItems?: number } = {}): Promise<{ a: EthereumClient; b: EthereumClient; toA: Peer; toB: Peer }> {
  const common = testCommon()
  const a = await startNode({ common, chain: await chainWith(common, source.blocks, source.receipts), ...serverOpts })
  clients.push(a.client)
  const bIdPromise = a.client.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: WAIT_MS })
  const b = await startNode({ common, bootnodes: [a.url] })
  clients.push(b.client)
  const toA = await nextPeer(b.client, enodeId(a.url))
  const [toB] = await bIdPromise
  return { a: a.client, b: b.client, toA, toB }
}

const hex = (items: { hash(): Uint8Array }[]): string[] => items.map((i) => bytesToHex(i.hash()))

describe('FullEthereumService', () => {
  it('offers EthProtocol under the RLPx server', async () => {
    const common = testCommon()
    const { client } = await startNode({ common })
    clients.push(client)
    expect(client.service).toBeInstanceOf(FullEthereumService)
    expect(client.service.protocols).toHaveLength(1)
    expect(client.service.protocols[0]).toBeInstanceOf(EthProtocol)
    expect(client.service.protocols[0]).toBe(client.service.protocols[0])
  })

  it('answers GetBlockHeaders by number and hash, with skip, reverse and bounds', async () => {
    const { toA } = await pair()
    const eth = toA.eth!
    const byNumber = await eth.getBlockHeaders({ block: 1n, max: 3, skip: 2 })
    expect(byNumber.map((h) => h.number)).toEqual([1n, 4n, 7n])
    expect(hex(byNumber)).toEqual(hex([source.blocks[0], source.blocks[3], source.blocks[6]]))
    const reverse = await eth.getBlockHeaders({ block: source.blocks[7].hash(), max: 4, reverse: true })
    expect(reverse.map((h) => h.number)).toEqual([8n, 7n, 6n, 5n])
    const pastHead = await eth.getBlockHeaders({ block: 6n, max: 100 })
    expect(pastHead.map((h) => h.number)).toEqual([6n, 7n, 8n])
    expect(await eth.getBlockHeaders({ block: new Uint8Array(32).fill(9), max: 5 })).toEqual([])
    expect(await eth.getBlockHeaders({ block: 1000n, max: 5 })).toEqual([])
    const latest = await toA.latest()
    expect(latest?.number).toBe(BigInt(BLOCKS))
  })

  it('caps replies at maxServeItems', async () => {
    const { toA } = await pair({ maxServeItems: 2 })
    expect(await toA.eth!.getBlockHeaders({ block: 1n, max: 5 })).toHaveLength(2)
    expect(await toA.eth!.getBlockBodies({ hashes: source.blocks.slice(0, 5).map((b) => b.hash()) })).toHaveLength(2)
  })

  it('answers GetBlockBodies and GetReceipts from the chain, stopping at an unknown hash', async () => {
    const { toA } = await pair()
    const hashes = source.blocks.slice(2, 5).map((b) => b.hash())
    const bodies = await toA.eth!.getBlockBodies({ hashes })
    expect(bodies).toHaveLength(3)
    bodies.forEach((body, i) => {
      // Wire form of a body: [transactions, uncles, withdrawals], exactly the block's own.
      expect(body).toEqual(source.blocks[2 + i].raw().slice(1))
      expect(body[0]).toHaveLength(2)
    })
    const stopped = await toA.eth!.getBlockBodies({ hashes: [hashes[0], new Uint8Array(32).fill(1), hashes[1]] })
    expect(stopped).toHaveLength(1)
    const receipts = await toA.eth!.getReceipts({ hashes })
    expect(receipts).toEqual(source.receipts.slice(2, 5))
  })

  it('answers GetPooledTransactions from the tx pool, skipping unknown hashes', async () => {
    const { a, toA } = await pair()
    const [t0, t1] = [poolTx(0), poolTx(1)]
    await a.service.txPool.add(t0)
    await a.service.txPool.add(t1)
    const txs = await toA.eth!.getPooledTransactions({ hashes: [t1.hash(), new Uint8Array(32).fill(3), t0.hash()] })
    expect(hex(txs)).toEqual(hex([t1, t0]))
  })

  it('pools gossiped transactions and fetches announced ones from the announcer', async () => {
    const { a, b, toA } = await pair()
    const gossiped = poolTx(2)
    const added = once(a.service.txPool, 'added')
    toA.eth!.send('Transactions', { txs: [gossiped] })
    expect(bytesToHex((await added)[0].hash())).toBe(bytesToHex(gossiped.hash()))

    const announced = poolTx(3)
    await b.service.txPool.add(announced)
    const fetched = once(a.service.txPool, 'added')
    toA.eth!.send('NewPooledTransactionHashes', { types: [announced.type], sizes: [announced.serialize().length], hashes: [announced.hash()] })
    expect(bytesToHex((await fetched)[0].hash())).toBe(bytesToHex(announced.hash()))
    expect(a.service.txPool.size).toBe(2)
  })

  it.each([
    ['an undecodable message', (p: Peer) => p.eth!.sender.sendMessage(0x03, [1n, [2n]]), /protocol error/],
    ['an unexpected response', (p: Peer) => p.eth!.send('BlockHeaders', { reqId: 424242n, headers: [] }), /protocol error/],
  ])('bans a peer that sends %s, with the reason', async (_what, misbehave, reason) => {
    const { a, b, toA, toB } = await pair()
    const banned = a.config.events.waitFor(Event.POOL_PEER_BANNED, { timeoutMs: WAIT_MS })
    const gone = b.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS })
    misbehave(toA)
    const [peer, why] = await banned
    expect(peer.id).toBe(toB.id)
    expect(why).toMatch(reason)
    expect(a.service.pool.contains(toB.id)).toBe(false)
    expect(a.config.server.isBanned(toB.id)).toBe(true)
    const [left, leftReason] = await gone
    expect(left.id).toBe(toA.id)
    // A protocol violation is reported as geth reports it, not as USELESS_PEER.
    expect(leftReason).toBe('subprotocol error (0x10)')
  })
})
