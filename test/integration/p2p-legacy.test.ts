import { afterEach, describe, expect, it } from 'vitest'

import { Common } from '../../src/chain-config'
import { Config, EthereumClient, Event } from '../../src/client'
import { LegacyRlpxPeerError } from '../../src/client/net/server/p2p-legacy'
import { P2PServer } from '../../src/client/net/server/p2pserver'

import type { ConfigOptions } from '../../src/client'
import type { DiscoveredPeer } from '../../src/client/types'

const WAIT_MS = 30_000
const clients: EthereumClient[] = []

afterEach(async () => {
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
  const common = Common.custom({ chainId: 1234, name: 'testnet' })
  const config = new Config({ common, port: 0, discPort: 0, bindAddress: '127.0.0.1', ...opts })
  const client = await EthereumClient.create({ config })
  clients.push(client)
  const discovered: DiscoveredPeer[] = []
  const errors: Error[] = []
  config.events.on(Event.PEER_DISCOVERED, (p) => void discovered.push(p))
  config.events.on(Event.PEER_ERROR, (err) => void errors.push(err))
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
  await client.open()
  await client.start()
  const [{ url }] = await listening
  return { client, url, id: url.slice('enode://'.length, url.indexOf('@')), discovered, errors }
}

describe('a P2P client and an RLPx client that discover each other', () => {
  it('settle into "not compatible" without a redial loop', async () => {
    const p2p = await startClient({ useP2PServer: true })
    const server: unknown = p2p.client.config.server
    if (!(server instanceof P2PServer)) throw new Error('useP2PServer: true did not give a P2PServer')
    let inboundAttempts = 0
    server.listener!.on('error', () => inboundAttempts++)
    const legacy = p2p.client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS, filter: (e) => e instanceof LegacyRlpxPeerError })

    const rlpx = await startClient({ useP2PServer: false, bootnodes: [p2p.url] })
    const [err, peer] = await legacy
    expect(err.message).toContain('remote speaks legacy RLPx')
    expect(peer.id).toBe(rlpx.id)

    // Settled once the RLPx client has discovered (and so dialed) the P2P client and that dial failed on our side.
    if (!rlpx.discovered.some((d) => d.id === p2p.id)) {
      await rlpx.client.config.events.waitFor(Event.PEER_DISCOVERED, { timeoutMs: WAIT_MS, filter: (d) => d.id === p2p.id })
    }
    if (inboundAttempts === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the RLPx client never reached us')), WAIT_MS)
        server.listener!.once('error', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    // Asking both sides to bootstrap again re-runs discovery against each other; it must not lead to new dials.
    await server.bootstrap()
    await rlpx.client.server.bootstrap()

    // One discovery and at most one dial each way; one legacy report; nobody in either pool.
    expect(p2p.discovered.filter((d) => d.id === rlpx.id).length).toBeLessThanOrEqual(1)
    expect(server.dialAttempts).toBeLessThanOrEqual(1)
    expect(rlpx.discovered.filter((d) => d.id === p2p.id)).toHaveLength(1)
    expect(inboundAttempts).toBe(1)
    expect(p2p.errors.filter((e) => e instanceof LegacyRlpxPeerError)).toHaveLength(1)
    expect(server.isBanned(rlpx.id)).toBe(true)
    expect(p2p.client.service.pool.size).toBe(0)
    expect(rlpx.client.service.pool.size).toBe(0)
  })
})
