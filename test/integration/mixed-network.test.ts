/**
 * A mixed network: P2P clients (useP2PServer: true) and RLPx nodes (our
 * RlpxServer client, and a bare @ethereumjs/devp2p node) connect in both
 * directions, exchange Status, and serve each other headers, bodies and
 * receipts; each kind syncs from the other and relays transactions to it.
 * The P2P client runs the devp2p base protocol itself, with the same P2PPeer
 * and StreamEthProtocol it uses with modular nodes.
 */
import { once } from 'node:events'

import { ETH, EthMessageCodes, RLPx, type Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Event, type EthereumClient, type Peer } from '../../src/client'
import { EthCode, type EthMessages, encodeEthPayload } from '../../src/client/net/protocol/ethmessages'
import { uintBytes } from '../../src/client/net/protocol/rlpfields'
import { P2PPeer } from '../../src/client/net/peer/p2ppeer'
import { withClientEth } from '../../src/client/net/server/rlpx/devp2p'
import { testAccounts } from '../../src/chain-config'
import { type TestChain, buildTestChain, makeTestTx } from '../../src/client/testing/testchain'
import { RLPX_MULTIPLEXER } from '../../src/p2p'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../client/helpers/nodes'
import { rawRlpxSession } from '../client/helpers/raw-peers'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'

import type { ConfigOptions } from '../../src/client'
import type { Input } from '@ethereumjs/rlp'

const BLOCKS = 5
let source: TestChain
const cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 2, seed: 'mixed' })
}, 60_000)

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function client(opts: ConfigOptions): Promise<{ client: EthereumClient; url: string; id: string }> {
  const common = testCommon()
  const n = await startNode({ common, discV4: false, chain: await chainWith(common, source.blocks, source.receipts), ...opts })
  cleanups.push(() => n.client.stop())
  return { ...n, id: enodeId(n.url) }
}

async function nonceOf(c: EthereumClient, account: number): Promise<bigint> {
  return (await c.chain.getAccount(testAccounts[account]!.address)).nonce
}

async function peerOf(c: EthereumClient, id: string): Promise<Peer> {
  return c.service.pool.peers.find((p) => p.id === id) ?? nextPeer(c, id)
}

/** Headers, bodies and receipts of the whole chain, fetched through `peer.eth` and checked against the source. */
async function fetchAll(peer: Peer): Promise<void> {
  const eth = peer.eth!
  const headers = await eth.getBlockHeaders({ block: 1n, max: BLOCKS })
  expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(source.blocks.map((b) => bytesToHex(b.hash())))
  const hashes = source.blocks.map((b) => b.hash())
  const bodies = await eth.getBlockBodies({ hashes })
  expect(bodies.map((b) => b[0].length)).toEqual(source.blocks.map((b) => b.transactions.length))
  const receipts = await eth.getReceipts({ hashes })
  expect(receipts.map((r) => r.length)).toEqual(source.receipts.map((r) => r.length))
}

describe('a P2P client and an RlpxServer client', () => {
  it.each([
    ['the P2P client dials', true],
    ['the RLPx client dials', false],
  ] as const)('%s: Status both ways, each serves the other headers, bodies and receipts', async (_what, p2pDials) => {
    const listener = await client({ useP2PServer: !p2pDials })
    const dialer = await client({ useP2PServer: p2pDials, bootnodes: [listener.url] })
    const [p2p, rlpx] = p2pDials ? [dialer, listener] : [listener, dialer]
    const atP2p = await peerOf(p2p.client, rlpx.id)
    const atRlpx = await peerOf(rlpx.client, p2p.id)
    expect(atP2p).toBeInstanceOf(P2PPeer)
    expect((atP2p as P2PPeer).connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(atP2p.inbound).toBe(!p2pDials)
    expect(atP2p.eth?.version).toBe(70)
    expect(atRlpx.eth?.version).toBe(70)
    await fetchAll(atP2p)
    await fetchAll(atRlpx)
  })

  it.each([
    ['a P2P client syncs from an RlpxServer client', true],
    ['an RlpxServer client syncs from a P2P client', false],
  ] as const)('%s by its synchronizer, and a transaction in the synced node\'s pool reaches the other', async (_what, p2pSyncs) => {
    const common = testCommon()
    const holder = await client({ useP2PServer: !p2pSyncs })
    let synced: Promise<unknown> | undefined
    const empty = await startNode({
      common,
      discV4: false,
      useP2PServer: p2pSyncs,
      bootnodes: [holder.url],
      beforeStart: (c) => void (synced = c.config.events.waitFor(Event.SYNC_SYNCHRONIZED, { timeoutMs: WAIT_MS })),
    })
    cleanups.push(() => empty.client.stop())
    await synced
    expect(empty.client.chain.headers.height).toBe(BigInt(BLOCKS))
    expect(bytesToHex(empty.client.chain.headers.latest.hash())).toBe(bytesToHex(source.blocks.at(-1)!.hash()))
    const atEmpty = await peerOf(empty.client, holder.id)
    if (p2pSyncs) expect((atEmpty as P2PPeer).connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    // A transaction on the synced head's state, from the synced node's pool to the holder's.
    const tx = makeTestTx(common, { kind: '1559-transfer', from: testAccounts[9]!, nonce: await nonceOf(empty.client, 9), seed: 'mixed-relay', index: 0 })
    const relayed = once(holder.client.service.txPool, 'added', { signal: AbortSignal.timeout(WAIT_MS) })
    expect(await empty.client.service.txPool.add(tx)).toBe(true)
    const [pooled] = (await relayed) as [{ hash(): Uint8Array }]
    expect(bytesToHex(pooled.hash())).toBe(bytesToHex(tx.hash()))
  })

  it('that find each other through discovery settle into one session, no errors, no redial loop', async () => {
    const p2p = await client({ useP2PServer: true, discV4: true })
    const errors: Error[] = []
    const onError = (err: Error): void => void errors.push(err)
    p2p.client.config.events.on(Event.PEER_ERROR, onError)
    cleanups.push(() => void p2p.client.config.events.off(Event.PEER_ERROR, onError))
    const rlpx = await client({ useP2PServer: false, discV4: true, bootnodes: [p2p.url] })
    await peerOf(p2p.client, rlpx.id)
    await peerOf(rlpx.client, p2p.id)
    await p2p.client.server.bootstrap()
    await rlpx.client.server.bootstrap()
    const events = [p2p.client.config.events, rlpx.client.config.events]
    await waitUntil(events, [Event.PEER_CONNECTED, Event.PEER_DISCONNECTED], () => p2p.client.service.pool.size === 1 && rlpx.client.service.pool.size === 1)
    expect(p2p.client.service.pool.peers.map((p) => p.id)).toEqual([rlpx.id])
    expect(rlpx.client.service.pool.peers.map((p) => p.id)).toEqual([p2p.id])
    expect(errors).toEqual([])
  })
})

/** The legacy consensus encoding of a receipt is an RLP list, a typed one bytes: the wire embeds them as such. */
function receiptItem(receipt: Uint8Array): Input {
  return receipt[0]! >= 0xc0 ? (RLP.decode(receipt) as Input) : receipt
}

/**
 * A bare devp2p node (the RLPx connection manager, no client code) that
 * listens, sends its Status, and answers GetBlockHeaders, GetBlockBodies and
 * GetReceipts from the source chain.
 */
async function bareDevp2pServer(client: EthereumClient): Promise<{ url: string; id: string; served: string[] }> {
  const key = secp.randomSecretKey()
  const id = bytesToUnprefixedHex(getPublicKey(key, false).subarray(1))
  const rlpx = new RLPx(key, { dpt: null, maxPeers: 4, capabilities: withClientEth([ETH.eth68]), common: testCommon(), listenPort: null })
  rlpx.events.on('error', () => {})
  rlpx.events.on('peer:error', () => {})
  cleanups.push(() => rlpx.destroy())
  const served: string[] = []
  const status = client.service.protocols[0]!.createStatus(68)
  const byHash = new Map(source.blocks.map((b, i) => [bytesToHex(b.hash()), i]))
  rlpx.events.on('peer:added', (peer: Devp2pPeer) => {
    const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)!
    eth.sendStatus({ td: uintBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash })
    eth.events.on('message', (code: number, payload: unknown) => {
      const [reqId, query] = payload as [Uint8Array, unknown]
      if (code === EthMessageCodes.GET_BLOCK_HEADERS) {
        const [start, max] = (query as Uint8Array[]).map((b) => Number(BigInt(bytesToHex(b.length === 0 ? Uint8Array.of(0) : b))))
        const blocks = source.blocks.slice(start! - 1, start! - 1 + max!)
        served.push('headers')
        eth.sendMessage(EthMessageCodes.BLOCK_HEADERS, [reqId, blocks.map((b) => b.header.raw())])
      } else if (code === EthMessageCodes.GET_BLOCK_BODIES) {
        const blocks = (query as Uint8Array[]).map((h) => source.blocks[byHash.get(bytesToHex(h))!]!)
        served.push('bodies')
        eth.sendMessage(EthMessageCodes.BLOCK_BODIES, [reqId, blocks.map((b) => b.raw().slice(1))])
      } else if (code === EthMessageCodes.GET_RECEIPTS) {
        const lists = (query as Uint8Array[]).map((h) => source.receipts[byHash.get(bytesToHex(h))!]!)
        served.push('receipts')
        eth.sendMessage(EthMessageCodes.RECEIPTS, [reqId, lists.map((l) => l.map(receiptItem))] as never)
      }
    })
  })
  const port = await new Promise<number>((resolve) => {
    rlpx.events.once('listening', () => resolve((rlpx as unknown as { _server: { address(): { port: number } } })._server.address().port))
    rlpx.listen(0, '127.0.0.1')
  })
  return { url: `enode://${id}@127.0.0.1:${port}?discport=0`, id, served }
}

describe('a P2P client and a bare @ethereumjs/devp2p peer', () => {
  it('the devp2p peer dials: Status, then the P2P client serves its GetBlockHeaders, GetBlockBodies and GetReceipts', async () => {
    const p2p = await client({ useP2PServer: true })
    const session = await rawRlpxSession(p2p.url, 68, testCommon())
    cleanups.push(() => session.close())
    const ctx = { version: 68, common: testCommon() }
    const hashes = source.blocks.map((b) => b.hash())
    session.sendAll(p2p.client.service.protocols[0]!.createStatus(68), [
      [EthCode.GetBlockHeaders, encodeEthPayload('GetBlockHeaders', { reqId: 1n, block: 1n, max: BLOCKS, skip: 0, reverse: false }, ctx)],
      [EthCode.GetBlockBodies, encodeEthPayload('GetBlockBodies', { reqId: 2n, hashes }, ctx)],
      [EthCode.GetReceipts, encodeEthPayload('GetReceipts', { reqId: 3n, hashes }, ctx)],
    ])
    const headers = (await session.next(EthCode.BlockHeaders)).data as EthMessages['BlockHeaders']
    expect(headers.headers.map((h) => bytesToHex(h.hash()))).toEqual(hashes.map((h) => bytesToHex(h)))
    const bodies = (await session.next(EthCode.BlockBodies)).data as EthMessages['BlockBodies']
    expect(bodies.bodies.map((b) => b[0].length)).toEqual(source.blocks.map((b) => b.transactions.length))
    const receipts = (await session.next(EthCode.Receipts)).data as EthMessages['Receipts']
    expect(receipts.reqId).toBe(3n)
    // Requests are only served to a pooled peer: it is there, carried by RLPx.
    const [peer] = p2p.client.service.pool.peers
    expect(p2p.client.service.pool.size).toBe(1)
    expect((peer as P2PPeer).connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(peer!.eth?.version).toBe(68)
  })

  it('the P2P client dials it (multistream-select, its Hello, a redial as RLPx): Status, then it serves the P2P client', async () => {
    const p2pChainless = await client({ useP2PServer: true })
    const bare = await bareDevp2pServer(p2pChainless.client)
    // No sync: only fetchAll below asks the bare peer for anything (a synchronizer would probe its head).
    const p2p = await client({ useP2PServer: true, bootnodes: [bare.url], sync: false })
    const peer = await peerOf(p2p.client, bare.id)
    expect((peer as P2PPeer).connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(peer.eth?.version).toBe(68)
    expect(peer.inbound).toBe(false)
    await fetchAll(peer)
    expect(bare.served).toEqual(['headers', 'bodies', 'receipts'])
  }, WAIT_MS * 2)
})
