import { afterEach, describe, expect, it } from 'vitest'

import { type EthereumClient, Event } from '../../src/client'
import { LegacyRlpxPeerBannedError } from '../../src/client/net/server/p2p/legacy'
import { P2PServer } from '../../src/client/net/server/p2pserver'

import { enodeId, startNode } from '../client/helpers/nodes'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'

import type { ConfigOptions } from '../../src/client'
import type { DiscoveredPeer } from '../../src/client/types'

const clients: EthereumClient[] = []
const detach: (() => void)[] = []

afterEach(async () => {
  for (const d of detach.splice(0)) d()
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

interface Node {
  client: EthereumClient
  url: string
  id: string
  discovered: DiscoveredPeer[]
  errors: Error[]
}

async function startClient(opts: ConfigOptions): Promise<Node> {
  const discovered: DiscoveredPeer[] = []
  const errors: Error[] = []
  const onDiscovered = (p: DiscoveredPeer): void => void discovered.push(p)
  const onError = (err: Error): void => void errors.push(err)
  // Subscribed before start(): bootstrapping already discovers.
  const subscribe = (client: EthereumClient): void => {
    client.config.events.on(Event.PEER_DISCOVERED, onDiscovered)
    client.config.events.on(Event.PEER_ERROR, onError)
    detach.push(() => {
      client.config.events.off(Event.PEER_DISCOVERED, onDiscovered)
      client.config.events.off(Event.PEER_ERROR, onError)
    })
  }
  const { client, url } = await startNode({ ...opts, beforeStart: subscribe })
  clients.push(client)
  return { client, url, id: enodeId(url), discovered, errors }
}

describe('a P2P client and an RLPx client that discover each other', () => {
  it('settle into "not compatible" without a redial loop', async () => {
    const p2p = await startClient({ useP2PServer: true })
    const server: unknown = p2p.client.config.server
    if (!(server instanceof P2PServer)) throw new Error('useP2PServer: true did not give a P2PServer')
    let inboundAttempts = 0
    server.listener!.on('error', () => inboundAttempts++)
    const legacy = p2p.client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS, filter: (e) => e instanceof LegacyRlpxPeerBannedError })

    const rlpx = await startClient({ useP2PServer: false, bootnodes: [p2p.url] })
    const [err, peer] = await legacy
    expect(err.message).toContain('remote speaks legacy RLPx')
    expect(peer.id).toBe(rlpx.id)

    // Settled once the RLPx client has discovered (and so dialed) the P2P client and that dial failed on our side.
    if (!rlpx.discovered.some((d) => d.id === p2p.id)) {
      await rlpx.client.config.events.waitFor(Event.PEER_DISCOVERED, { timeoutMs: WAIT_MS, filter: (d) => d.id === p2p.id })
    }
    await waitUntil([server.listener!], ['error'], () => inboundAttempts > 0, { describe: () => 'the RLPx client never reached us' })
    // Asking both sides to bootstrap again re-runs discovery against each other; it must not lead to new dials.
    await server.bootstrap()
    await rlpx.client.server.bootstrap()

    // One discovery and at most one dial each way; one legacy report; nobody in either pool.
    expect(p2p.discovered.filter((d) => d.id === rlpx.id).length).toBeLessThanOrEqual(1)
    expect(server.dialAttempts).toBeLessThanOrEqual(1)
    expect(rlpx.discovered.filter((d) => d.id === p2p.id)).toHaveLength(1)
    expect(inboundAttempts).toBe(1)
    expect(p2p.errors.filter((e) => e instanceof LegacyRlpxPeerBannedError)).toHaveLength(1)
    expect(server.isBanned(rlpx.id)).toBe(true)
    expect(p2p.client.service.pool.size).toBe(0)
    expect(rlpx.client.service.pool.size).toBe(0)
  })
})
