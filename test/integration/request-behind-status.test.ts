/**
 * A remote may send its first requests right behind its Status, in the same
 * TCP segment: the serving node then decodes Status and requests in one turn,
 * while the session is still being handed to the Peer (`peer.eth`). Such
 * requests must be answered like any other, on both transports: one the
 * service answers after reading the chain (GetBlockHeaders) and one it
 * answers synchronously from the transaction pool (GetPooledTransactions),
 * which is the one that found `peer.eth` unset when the session was handed
 * over late. The remote is hand-made (raw-peers.ts) so that nothing on its
 * side waits for the node's Status before asking.
 */
import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Event } from '../../src/client'
import { EthCode, type EthMessages, encodeEthPayload } from '../../src/client/net/protocol/ethmessages'
import { type TestChain, buildTestChain, makeTestTx } from '../../src/client/testing/testchain'
import { chainWith, startNode, testCommon } from '../client/helpers/nodes'
import { type RawEthSession, rawRlpxSession, rawStreamSession } from '../client/helpers/raw-peers'

import type { Input } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { EthereumClient, Peer } from '../../src/client'

const BLOCKS = 4
/** Fresh sessions per transport: the race depends on timing, so one lucky session proves little. */
const SESSIONS = 5
const VERSION = 68
const HEADERS_REQ_ID = 7n
const TXS_REQ_ID = 8n

let source: TestChain
/** A valid transaction (a later nonce of a funded account) sitting in the serving node's pool. */
let pooled: TypedTransaction
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 1, seed: 'behind-status' })
  pooled = makeTestTx(testCommon(), { kind: '1559-transfer', from: source.accounts[0]!, nonce: 1000n, seed: 'behind-status', index: 1000 })
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface ServingNode {
  client: EthereumClient
  url: string
  /** PEER_CONNECTED and PROTOCOL_MESSAGE on the node's bus, in order. */
  seen: { event: Event; peer: Peer }[]
}

async function servingNode(useP2PServer: boolean): Promise<ServingNode> {
  const common = testCommon()
  const { client, url } = await startNode({ common, useP2PServer, discV4: false, chain: await chainWith(common, source.blocks, source.receipts) })
  await client.service.txPool.add(pooled)
  const seen: ServingNode['seen'] = []
  const onConnected = (peer: Peer): void => void seen.push({ event: Event.PEER_CONNECTED, peer })
  const onMessage = (_m: unknown, _p: string, peer: Peer): void => void seen.push({ event: Event.PROTOCOL_MESSAGE, peer })
  client.config.events.on(Event.PEER_CONNECTED, onConnected)
  client.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
  cleanups.push(async () => {
    client.config.events.off(Event.PEER_CONNECTED, onConnected)
    client.config.events.off(Event.PROTOCOL_MESSAGE, onMessage)
    await client.stop()
  })
  return { client, url, seen }
}

/** The two requests sent right behind Status. */
function requests(): [number, Input][] {
  const ctx = { version: VERSION, common: testCommon() }
  return [
    [EthCode.GetBlockHeaders, encodeEthPayload('GetBlockHeaders', { reqId: HEADERS_REQ_ID, block: 1n, max: BLOCKS, skip: 0, reverse: false }, ctx)],
    [EthCode.GetPooledTransactions, encodeEthPayload('GetPooledTransactions', { reqId: TXS_REQ_ID, hashes: [pooled.hash()] }, ctx)],
  ]
}

/** Sends Status and both requests in one write, then checks both replies carry what was asked for. */
async function askRightBehindStatus(node: ServingNode, session: RawEthSession): Promise<void> {
  cleanups.push(() => session.close())
  // The node's own Status: same network, genesis and fork id, so it passes validation.
  session.sendAll(node.client.service.protocols[0]!.createStatus(VERSION), requests())
  const headers = (await session.next(EthCode.BlockHeaders)).data as EthMessages['BlockHeaders']
  expect(headers.reqId).toBe(HEADERS_REQ_ID)
  expect(headers.headers.map((h) => bytesToHex(h.hash()))).toEqual(source.blocks.map((b) => bytesToHex(b.hash())))
  const txs = (await session.next(EthCode.PooledTransactions)).data as EthMessages['PooledTransactions']
  expect(txs.reqId).toBe(TXS_REQ_ID)
  expect(txs.txs.map((t) => bytesToHex(t.hash()))).toEqual([bytesToHex(pooled.hash())])
  await session.close()
}

/** Every request was routed after its peer was announced (so the pool held the peer when it was handled). */
function expectAnnouncedFirst(node: ServingNode): void {
  const messages = node.seen.filter((e) => e.event === Event.PROTOCOL_MESSAGE)
  expect(messages).toHaveLength(SESSIONS * 2)
  for (const [i, e] of node.seen.entries()) {
    if (e.event !== Event.PROTOCOL_MESSAGE) continue
    expect(node.seen.slice(0, i).some((c) => c.event === Event.PEER_CONNECTED && c.peer === e.peer)).toBe(true)
  }
}

describe('requests right behind Status are answered', () => {
  it('on an ETH stream of the P2P stack (Status and requests in one write)', async () => {
    const node = await servingNode(true)
    for (let i = 0; i < SESSIONS; i++) await askRightBehindStatus(node, await rawStreamSession(node.url, VERSION, testCommon()))
    expectAnnouncedFirst(node)
  })

  it('on an RLPx session (Status and requests in one TCP segment)', async () => {
    const node = await servingNode(false)
    for (let i = 0; i < SESSIONS; i++) await askRightBehindStatus(node, await rawRlpxSession(node.url, VERSION, testCommon()))
    expectAnnouncedFirst(node)
  })

  it("on an RLPx session with a P2P node (the stack's capability stream)", async () => {
    const node = await servingNode(true)
    for (let i = 0; i < SESSIONS; i++) await askRightBehindStatus(node, await rawRlpxSession(node.url, VERSION, testCommon()))
    expectAnnouncedFirst(node)
  })
})
