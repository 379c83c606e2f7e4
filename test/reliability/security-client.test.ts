import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { EthCode, encodeStatus } from '../../src/client/net/protocol/ethmessages'
import { Event } from '../../src/client/types'
import { P2PError, writeMessage, type Connection } from '../../src/p2p'
import { EVENT_TIMEOUT_MS, closeConnection } from '../p2p/stack/helpers'
import { makeNode } from '../p2p/stack/nodes'
import { count, enodeId, settled, settledAll, startP2PNode, type P2PNode } from '../client/net/p2p/nodes'
import { size } from '../soak/soak'
import { until } from '../utils/resources'

/**
 * Issue 6, item 7 at the node level (P2PServer): duplicate connections and
 * simultaneous dials end with one session per pair, banned ids are refused
 * right after the ECIES handshake (the first point the remote id is known),
 * and maxPeers holds while many peers connect at once.
 */

const FLOOD_PEERS = size('SECURITY_FLOOD_PEERS', 40, 200)
const SIMULTANEOUS_ROUNDS = size('SECURITY_SIMULTANEOUS_ROUNDS', 3, 20)

const nodes: P2PNode[] = []
const conns: Connection[] = []
afterEach(async () => {
  for (const c of conns.splice(0)) await closeConnection(c).catch(() => undefined)
  for (const n of nodes.splice(0)) await n.stop()
})

async function node(opts: Parameters<typeof startP2PNode>[0] = {}): Promise<P2PNode> {
  const n = await startP2PNode(opts)
  nodes.push(n)
  return n
}

const portOf = (url: string): number => Number(new URL(url).port)


/**
 * A full ETH session from a bare stack node with `privateKey`: dial, open the
 * eth stream, send the target's own Status (so it validates). Resolves with
 * the connection, or rejects with the stack's typed error.
 */
async function ethSession(target: P2PNode, privateKey?: Uint8Array): Promise<Connection> {
  const peer = makeNode(privateKey === undefined ? {} : { privateKey })
  const conn = await peer.transport.dial({ host: '127.0.0.1', port: portOf(target.url) }, { remoteId: Buffer.from(enodeId(target.url), 'hex') })
  conns.push(conn)
  const stream = await conn.newStream(target.protocol.protocolIds)
  stream.on('error', () => {})
  stream.resume()
  const version = Number(/\/eth\/(\d+)\//.exec(stream.protocol!)![1])
  writeMessage(stream, [Uint8Array.of(EthCode.Status), RLP.encode(encodeStatus(target.protocol.createStatus(version)))])
  return conn
}

async function headersWork(from: P2PNode, peerId: string): Promise<void> {
  const peer = from.server.peers.find((p) => p.id === peerId)
  expect(peer, `${peerId.slice(0, 8)} is a peer`).toBeDefined()
  expect(await peer!.eth!.getBlockHeaders({ block: 0n, max: 1 })).toHaveLength(1)
}

describe('duplicate connections', () => {
  it('a second node under an id that already has a session leaves one session for that id, and it is served', async () => {
    // Which of two same-direction connections survives is the server's policy (a restarted peer's new
    // connection may replace its stale one); what must hold is one session per id, and that it works.
    const b = await node()
    const key = secp.randomSecretKey()
    const a1 = await node({ key, bootnodes: [b.url] })
    const aId = enodeId(a1.url)
    await settled(b, () => b.server.peers.length === 1)
    const a2 = await node({ key, bootnodes: [b.url] })
    const toA = (): Connection[] => (b.server.listener?.connections ?? []).filter((c) => bytesToUnprefixedHex(c.remoteId) === aId && c.status === 'open')
    await settledAll([a1, a2, b], () => count(b, Event.CONNECTION_OPENED) === 2 && b.server.peers.length === 1 && toA().length === 1, () =>
      `b: ${count(b, Event.CONNECTION_OPENED)} opened, ${b.server.peers.length} peers, ${toA().length} open connections to a`,
    )
    expect(b.server.connections).toHaveLength(1)
    await headersWork(b, aId)
    // Exactly one of the two twins holds the session.
    expect(a1.server.peers.length + a2.server.peers.length).toBe(1)
  })

  it(`two nodes dialing each other at the same moment end with one shared connection (${SIMULTANEOUS_ROUNDS} rounds)`, async () => {
    for (let round = 0; round < SIMULTANEOUS_ROUNDS; round++) {
      // No lower-id-first yield: this is about both dialing in the same tick.
      const a = await node({ discV4: true, dialBackoffMs: 0 })
      const b = await node({ discV4: true, dialBackoffMs: 0 })
      const info = (n: P2PNode): { id: Buffer; address: string; udpPort: number; tcpPort: number } => ({
        id: Buffer.from(enodeId(n.url), 'hex'),
        address: '127.0.0.1',
        udpPort: portOf(n.url),
        tcpPort: portOf(n.url),
      })
      // Both learn of each other in the same tick: both dial at once.
      a.server.dpt!.events.emit('peer:new', info(b))
      b.server.dpt!.events.emit('peer:new', info(a))
      expect(a.server.dialAttempts).toBe(1)
      expect(b.server.dialAttempts).toBe(1)
      const one = (): boolean =>
        a.server.connections.length === 1 && b.server.connections.length === 1 && a.server.peers.length === 1 && b.server.peers.length === 1
      await settledAll([a, b], one, () => `a: ${a.server.connections.length} conns, b: ${b.server.connections.length} conns`)
      // The same TCP connection seen from both ends: one side's outbound is the other's inbound.
      const [ca] = a.server.connections
      const [cb] = b.server.connections
      expect(ca!.direction).not.toBe(cb!.direction)
      await headersWork(a, enodeId(b.url))
      await headersWork(b, enodeId(a.url))
      await Promise.all([a.stop(), b.stop()])
    }
  })
})

describe('bans', () => {
  it('a banned id is refused right after the ECIES handshake and never becomes a peer; others still connect', async () => {
    const b = await node()
    const key = secp.randomSecretKey()
    const bannedId = bytesToUnprefixedHex(getPublicKey(key, false).subarray(1))
    b.server.ban(bannedId)
    const a = await node({ key, bootnodes: [b.url] })
    await until(() => a.server.stats.dialFailures === 1, 'the banned node’s dial failing')
    expect(b.server.stats.inboundRefused).toBe(1)
    expect(count(b, Event.CONNECTION_OPENED)).toBe(0)
    expect(count(b, Event.PEER_CONNECTED)).toBe(0)
    expect(b.server.connections).toEqual([])
    // Also when it comes without its node: a bare stack dial under that id.
    const again = await ethSession(b, key).catch((e: unknown) => e)
    expect(again).toBeInstanceOf(P2PError)
    expect(b.server.stats.inboundRefused).toBe(2)
    const c = await node({ bootnodes: [b.url] })
    await settled(b, () => b.server.peers.length === 1)
    expect(b.server.peers[0]!.id).toBe(enodeId(c.url))
  })
})

describe('maxPeers under a flood', () => {
  it(`${FLOOD_PEERS} peers connecting at once never take more than maxPeers sessions`, async () => {
    const maxPeers = 5
    const b = await node({ maxPeers })
    let maxSessions = 0
    let maxPeersSeen = 0
    const sample = (): void => {
      maxSessions = Math.max(maxSessions, b.server.connections.length)
      maxPeersSeen = Math.max(maxPeersSeen, b.server.peers.length)
    }
    const events = [Event.CONNECTION_OPENED, Event.PEER_CONNECTED, Event.CONNECTION_CLOSED] as const
    for (const e of events) b.config.events.on(e, sample)
    const results = await Promise.allSettled(Array.from({ length: FLOOD_PEERS }, () => ethSession(b).then((c) => (sample(), c))))
    for (const e of events) b.config.events.off(e, sample)
    const admitted = results.filter((r) => r.status === 'fulfilled').length
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(P2PError)
    expect(admitted).toBeGreaterThan(0)
    expect(maxSessions).toBeLessThanOrEqual(maxPeers)
    expect(maxPeersSeen).toBeLessThanOrEqual(maxPeers)
    expect(b.server.connections.length).toBeLessThanOrEqual(maxPeers)
    // Once the flood is gone, a good node connects and is served.
    for (const c of conns.splice(0)) await closeConnection(c)
    await settled(b, () => b.server.connections.length === 0)
    const good = await node({ bootnodes: [b.url] })
    await settled(good, () => good.server.peers.length === 1)
    await headersWork(good, enodeId(b.url))
  })
})
