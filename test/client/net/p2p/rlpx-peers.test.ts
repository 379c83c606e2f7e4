import { afterEach, describe, expect, it } from 'vitest'

import { EthereumClient } from '../../../../src/client/client'
import { P2PPeer } from '../../../../src/client/net/peer/p2ppeer'
import { Event } from '../../../../src/client/types'
import { unprefixedHexToBytes } from '@ethereumjs/util'

import { DisconnectReason, RLPX_MULTIPLEXER } from '../../../../src/p2p'
import { enodeId } from '../../helpers/nodes'
import { makeChain, makeConfig, sourceChain } from './helpers'
import { type P2PNode, count, settledAll, startP2PNode, waitEvent } from './nodes'

import type { Peer } from '../../../../src/client/net/peer/peer'

/**
 * A P2PServer meeting RlpxServer nodes (the legacy path, @ethereumjs/devp2p
 * underneath): the stack runs the devp2p base protocol with them on the same
 * port and dial path as with modular nodes, and P2PPeer/StreamEthProtocol
 * serve them unchanged.
 */

const BLOCKS = 6
const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function startRlpxClient(opts: { bootnodes?: string[]; discV4?: boolean; blocks?: number } = {}): Promise<{ client: EthereumClient; url: string; id: string }> {
  const config = makeConfig({ discV4: opts.discV4 ?? false, bootnodes: opts.bootnodes ?? [] })
  const client = await EthereumClient.create({ config, chain: await makeChain(opts.blocks ?? 0) })
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: 20_000 })
  await client.start()
  cleanups.push(() => client.stop())
  const [{ url, transport }] = await listening
  expect(transport).toBe('rlpx')
  return { client, url, id: enodeId(url) }
}

async function p2pNode(opts: Parameters<typeof startP2PNode>[0] = {}): Promise<P2PNode> {
  const node = await startP2PNode({ chain: await makeChain(BLOCKS), ...opts })
  cleanups.push(() => node.stop())
  return node
}

/** The P2P node's view of the RLPx node, once its Status handshake is done. */
async function connectedPeer(node: P2PNode, id: string): Promise<P2PPeer> {
  const found = node.server.peers.find((p) => p.id === id)
  if (found !== undefined) return found
  const [peer] = await waitEvent(node, Event.PEER_CONNECTED, (p) => p.id === id)
  return peer as P2PPeer
}

async function rlpxPeerOf(client: EthereumClient, id: string): Promise<Peer> {
  const found = client.service.pool.peers.find((p) => p.id === id)
  if (found !== undefined) return found
  const [peer] = await client.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: 20_000, filter: (p) => p.id === id })
  return peer
}

describe('a P2P node and an RLPx node', () => {
  it('the P2P node dials it: multistream-select is answered by a Hello, one redial as RLPx, then a session both serve', async () => {
    const src = await sourceChain(BLOCKS)
    const rlpx = await startRlpxClient({ blocks: BLOCKS })
    const p2p = await p2pNode({ bootnodes: [rlpx.url] })
    const peer = await connectedPeer(p2p, rlpx.id)
    expect(peer).toBeInstanceOf(P2PPeer)
    expect(peer.connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(peer.inbound).toBe(false)
    expect(peer.eth?.version).toBe(70)
    expect(peer.clientName).toMatch(/^ethp2p/)
    expect(p2p.server.upgrader.speaksRlpx(unprefixedHexToBytes(rlpx.id))).toBe(true)
    // One dial from the scheduler's point of view: the redial as RLPx is part of it.
    expect(p2p.server.dialAttempts).toBe(1)
    expect(count(p2p, Event.PEER_ERROR)).toBe(0)

    const headers = await peer.eth!.getBlockHeaders({ block: 1n, max: BLOCKS })
    expect(headers.map((h) => h.number)).toEqual(src.blocks.map((b) => b.header.number))
    const hashes = src.blocks.map((b) => b.hash())
    expect((await peer.eth!.getBlockBodies({ hashes })).map((b) => b[0].length)).toEqual(src.blocks.map((b) => b.transactions.length))
    expect((await peer.eth!.getReceipts({ hashes })).map((r) => r.length)).toEqual(src.receipts.map((r) => r.length))

    // The other way round: the RLPx node's requests are served by StreamEthProtocol over the capability stream.
    const back = await rlpxPeerOf(rlpx.client, enodeId(p2p.url))
    expect((await back.eth!.getBlockHeaders({ block: 0n, max: BLOCKS + 1 })).length).toBe(BLOCKS + 1)
    expect(p2p.serveErrors).toEqual([])
  })

  it('the RLPx node dials it: the first frame is a Hello, the eth capability reaches the Registrar as /eth/70/1.0.0', async () => {
    const p2p = await p2pNode()
    const streams = p2p.config.events.waitFor(Event.STREAM_OPENED, { timeoutMs: 20_000 })
    const rlpx = await startRlpxClient({ bootnodes: [p2p.url] })
    const peer = await connectedPeer(p2p, rlpx.id)
    expect(peer.inbound).toBe(true)
    expect(peer.connection.multiplexer).toBe(RLPX_MULTIPLEXER)
    const [info] = await streams
    expect(info).toMatchObject({ protocol: '/eth/70/1.0.0', direction: 'inbound' })
    // It dialed us as RLPx, so it is remembered as one: a dial to it goes RLPx at once.
    expect(p2p.server.upgrader.speaksRlpx(unprefixedHexToBytes(rlpx.id))).toBe(true)
    const back = await rlpxPeerOf(rlpx.client, enodeId(p2p.url))
    expect((await back.eth!.getBlockHeaders({ block: 0n, max: BLOCKS + 1 })).length).toBe(BLOCKS + 1)
  })

  it("disconnect reasons reach the RLPx node in a devp2p Disconnect, and the RLPx node's reach the P2P node", async () => {
    const rlpx = await startRlpxClient({ blocks: BLOCKS })
    const p2p = await p2pNode({ bootnodes: [rlpx.url] })
    const peer = await connectedPeer(p2p, rlpx.id)
    const theirs = await rlpxPeerOf(rlpx.client, enodeId(p2p.url))
    const gone = rlpx.client.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: 20_000, filter: (p) => p.id === enodeId(p2p.url) })
    await peer.disconnect(DisconnectReason.TOO_MANY_PEERS, 'test')
    const [, reason] = await gone
    expect(reason).toMatch(/too many peers \(0x04\)/)
    expect(theirs.eth).toBeDefined()

    // Now they dial again and the RLPx node ends it with its own reason.
    const again = await p2pNode({ bootnodes: [rlpx.url] })
    const second = await connectedPeer(again, rlpx.id)
    const closed = waitEvent(again, Event.PEER_DISCONNECTED, (p) => p.id === rlpx.id)
    const remote = await rlpxPeerOf(rlpx.client, enodeId(again.url))
    await remote.disconnect(DisconnectReason.SUBPROTOCOL_ERROR, 'test')
    const [, ours] = await closed
    expect(ours).toMatch(/subprotocol error \(0x10\): sent by the remote/)
    expect(second.closed).toBe(true)
  })
})

describe('P2P and RLPx nodes that find each other through discovery', () => {
  it('settle into one session per node id: Status exchanged, no errors, no redial loop', async () => {
    const p2p = await p2pNode({ discV4: true })
    const rlpx = await startRlpxClient({ bootnodes: [p2p.url], discV4: true })
    await connectedPeer(p2p, rlpx.id)
    await rlpxPeerOf(rlpx.client, enodeId(p2p.url))
    // Rediscovery on both sides must not add a second connection or tear the first one down.
    await p2p.server.bootstrap()
    await rlpx.client.server.bootstrap()
    await settledAll([p2p], () => p2p.server.connections.length === 1 && p2p.server.peers.length === 1)
    expect(p2p.server.peers.map((p) => p.id)).toEqual([rlpx.id])
    expect(count(p2p, Event.PEER_ERROR)).toBe(0)
    expect(count(p2p, Event.PEER_DISCONNECTED)).toBe(0)
    expect(rlpx.client.service.pool.peers.map((p) => p.id)).toEqual([enodeId(p2p.url)])
  })
})
