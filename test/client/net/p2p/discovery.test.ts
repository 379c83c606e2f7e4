import { afterEach, describe, expect, it } from 'vitest'

import { Event } from '../../../../src/client/types'
import { makeChain } from './helpers'
import { type P2PNode, enodeId, settledAll, startP2PNode } from './nodes'

const nodes: P2PNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** Remote ids of a node's connected peers, sorted. */
function peerIds(n: P2PNode): string[] {
  return n.server.peers.map((p) => p.id).sort()
}

describe('P2PServer with discovery', () => {
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
