import net from 'node:net'
import { bytesToUnprefixedHex } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { Event } from '../../src/client/types'
import { waitForEvent } from '../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS } from '../client/net/p2p/helpers'
import { enodeId, startP2PNode, type P2PNode } from '../client/net/p2p/nodes'
import { size } from '../soak/soak'
import { until } from '../utils/resources'

/**
 * Issue 6, item 5 (handshake floods) at the node level: a P2PServer with the
 * default limits (maxPeers 25, handshake timeout 10 s, listener defaults)
 * receives FLOOD sockets that connect and never send a byte; a good node
 * dialing it afterwards must complete its session (ECIES, mplex, ETH Status)
 * within 1 s — the bound, used as the wait's own timeout (an honest
 * session on loopback takes tens of milliseconds).
 */

const FLOOD = size('FLOOD_SOCKETS', 200, 200)
const GOOD_PEER_BUDGET_MS = 1_000
/** Generous: the freed slots are known at once (socket close), the dial then takes milliseconds. */
const QUEUED_DIAL_BUDGET_MS = 5_000

const nodes: P2PNode[] = []
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const n of nodes.splice(0)) await n.stop()
})

async function node(opts: Parameters<typeof startP2PNode>[0] = {}): Promise<P2PNode> {
  const n = await startP2PNode(opts)
  nodes.push(n)
  return n
}

function tcpPort(url: string): number {
  return Number(new URL(url).port)
}

/** `n` sockets that connect and never send anything. */
async function idleFlood(port: number, n: number): Promise<net.Socket[]> {
  const flood = Array.from({ length: n }, () => {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    s.resume()
    return s
  })
  sockets.push(...flood)
  await Promise.all(flood.map((s) => waitForEvent(s, 'connect', { timeoutMs: EVENT_TIMEOUT_MS, rejectOn: 'error' })))
  return flood
}

describe('handshake floods at the node level', () => {
  it(`${FLOOD} sockets that never start the handshake do not keep a good node from connecting within 1 s`, async () => {
    const a = await node()
    await idleFlood(tcpPort(a.url), FLOOD)
    const key = secp.randomSecretKey()
    const gId = bytesToUnprefixedHex(getPublicKey(key, false).subarray(1))
    const connected = a.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: GOOD_PEER_BUDGET_MS, filter: (p) => p.id === gId })
    // The good node dials A from its start() (bootnodes, no discovery in these tests).
    await node({ key, bootnodes: [a.url] })
    const [peer] = await connected.catch((err: Error) => {
      const l = a.server.listener
      throw new Error(`${err.message} (A: ${a.server.stats.inboundRefused} sockets refused, ${l?.pendingHandshakes} handshakes pending, ${a.server.connections.length} connections)`)
    })
    expect(peer.eth).toBeDefined()
    const headers = await peer.eth!.getBlockHeaders({ block: 0n, max: 1 })
    expect(headers).toHaveLength(1)
  })

  it('a discovered node queued while idle sockets held every slot is dialed once those sockets go away', async () => {
    const maxPeers = 4
    // dialBackoffMs 0: a dials g when a slot frees whichever id is lower.
    const a = await node({ maxPeers, discV4: true, dialBackoffMs: 0 })
    const idle = await idleFlood(tcpPort(a.url), maxPeers)
    await until(() => a.server.listener?.pendingHandshakes === maxPeers)
    const g = await node()
    const gId = enodeId(g.url)
    const connected = a.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: QUEUED_DIAL_BUDGET_MS, filter: (p) => p.id === gId })
    const attempts = a.server.dialAttempts
    a.server.dpt!.events.emit('peer:new', { id: Buffer.from(gId, 'hex'), address: '127.0.0.1', udpPort: tcpPort(g.url), tcpPort: tcpPort(g.url) })
    expect(a.server.dialAttempts).toBe(attempts) // every slot is taken: queued, not dialed
    for (const s of idle) s.destroy()
    await until(() => a.server.listener?.pendingHandshakes === 0)
    await connected.catch((err: Error) => {
      throw new Error(`${err.message}: the queued node was not dialed after the slots freed (dial attempts ${a.server.dialAttempts - attempts})`)
    })
  })
})

