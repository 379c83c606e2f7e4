import { afterEach, describe, expect, it } from 'vitest'

import { Event } from '../../../../src/client/types'
import { makeChain } from './helpers'
import { enodeId } from '../../helpers/nodes'
import { type P2PNode, count, settledAll, startP2PNode } from './nodes'

const nodes: P2PNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** Remote ids of a node's connected peers, sorted. */
function peerIds(n: P2PNode): string[] {
  return n.server.peers.map((p) => p.id).sort()
}

describe('P2PServer with discovery', () => {
  it('re-establishes a connection that broke, from the discovery table, with one connection in the end', async () => {
    const common = { discV4: true, discoveryRefreshMs: 60_000 }
    const a = await startP2PNode({ ...common, chain: await makeChain(2) })
    nodes.push(a)
    const b = await startP2PNode({ ...common, bootnodes: [a.url] })
    nodes.push(b)
    const aId = enodeId(a.url)
    const bId = enodeId(b.url)
    const linked = (): boolean => peerIds(a).join() === bId && peerIds(b).join() === aId && a.server.connections.length === 1
    await settledAll([a, b], linked)
    // Discovery reported each node once; only the table can bring the connection back.
    const [toA] = b.server.peers
    const before = count(b, Event.PEER_CONNECTED)
    toA!.connection.abort(new Error('link broke'))
    await settledAll([a, b], () => count(b, Event.PEER_CONNECTED) > before && linked(), () => `b peers ${peerIds(b).length}, a peers ${peerIds(a).length}`)
    const again = b.server.peers[0]!
    expect(again).not.toBe(toA)
    expect((await again.eth!.getBlockHeaders({ block: 1n, max: 2 })).map((h) => h.number)).toEqual([1n, 2n])
    expect(count(b, Event.PEER_DISCOVERED, ([p]) => (p as { id: string }).id === aId)).toBe(1)
  })

  it('three nodes find each other through one bootnode and keep exactly one connection per pair', async () => {
    const common = { discV4: true, discoveryRefreshMs: 1_000 }
    const boot = await startP2PNode({ ...common, chain: await makeChain(0) })
    nodes.push(boot)
    const b = await startP2PNode({ ...common, bootnodes: [boot.url] })
    nodes.push(b)
    const c = await startP2PNode({ ...common, bootnodes: [boot.url] })
    nodes.push(c)
    const all = [boot, b, c]
    const ids = all.map((n) => enodeId(n.url))
    // Each node ends up with the other two as peers (discovery spreads them, Status binds them),
    // and simultaneous dials have been resolved to one connection per pair on both ends.
    const meshed = (): boolean =>
      all.every((n, i) => peerIds(n).join() === ids.filter((_, j) => j !== i).sort().join() && n.server.connections.length === 2)
    const state = (): string =>
      all.map((n) => `${enodeId(n.url).slice(0, 6)}: peers ${n.server.peers.map((p) => p.id.slice(0, 6))} conns ${n.server.connections.length}`).join('; ')
    await settledAll(all, meshed, state)
    for (const n of all) {
      expect(n.server.connections).toHaveLength(2)
      expect(n.events.filter((e) => e.event === Event.PEER_DISCOVERED).length).toBeGreaterThanOrEqual(1)
      // Duplicates closed by the tie-break are not peer errors.
      expect(n.events.filter((e) => e.event === Event.PEER_ERROR).map((e) => (e.args[0] as Error).message)).toEqual([])
    }
    // Both ends of every pair kept the same connection: one side sees it outbound, the other inbound.
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const there = all[i].server.peers.find((p) => p.id === ids[j])!
        const back = all[j].server.peers.find((p) => p.id === ids[i])!
        expect(there.inbound).toBe(!back.inbound)
      }
    }
  })
})
