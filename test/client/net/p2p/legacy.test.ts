import { afterEach, describe, expect, it } from 'vitest'

import { EthereumClient } from '../../../../src/client/client'
import { Event } from '../../../../src/client/types'
import { LegacyRlpxPeerBannedError } from '../../../../src/client/net/server/p2p/legacy'
import { enodeId } from '../../helpers/nodes'
import { WAIT_MS, nextEvent } from '../../helpers/waits'
import { makeChain, makeConfig } from './helpers'
import { type P2PNode, count, startP2PNode, waitEvent } from './nodes'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { EventEmitter } from 'node:events'
import type { DiscoveredPeer } from '../../../../src/client/types'

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function startRlpxClient(bootnodes: string[], discV4 = true): Promise<{ client: EthereumClient; url: string; discovered: DiscoveredPeer[] }> {
  const config = makeConfig({ discV4, bootnodes })
  const client = await EthereumClient.create({ config, chain: await makeChain(0) })
  const discovered: DiscoveredPeer[] = []
  const onDiscovered = (p: DiscoveredPeer): void => void discovered.push(p)
  config.events.on(Event.PEER_DISCOVERED, onDiscovered)
  cleanups.push(async () => void config.events.off(Event.PEER_DISCOVERED, onDiscovered))
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
  await client.start()
  cleanups.push(() => client.stop())
  const [{ url, transport }] = await listening
  expect(transport).toBe('rlpx')
  return { client, url, discovered }
}

describe('a P2P node meeting a legacy RLPx node', () => {
  it('reports "remote speaks legacy RLPx" once, bans it, and neither side redials in a loop', async () => {
    const p2p: P2PNode = await startP2PNode({ discV4: true, chain: await makeChain(0) })
    cleanups.push(() => p2p.stop())
    let inboundFailures = 0
    p2p.server.listener!.on('error', () => inboundFailures++)
    const legacyError = waitEvent(p2p, Event.PEER_ERROR, (err) => err instanceof LegacyRlpxPeerBannedError)

    // The RLPx node bootstraps discovery from the P2P node: each learns of the other and dials it.
    const rlpx = await startRlpxClient([p2p.url])
    const rlpxId = enodeId(rlpx.url)
    const [err, peer] = await legacyError
    expect(err.message).toContain('remote speaks legacy RLPx')
    expect((err as LegacyRlpxPeerBannedError).code).toBe('ERR_PEER_LEGACY_RLPX')
    expect(peer.id).toBe(rlpxId)
    expect(p2p.server.isBanned(rlpxId)).toBe(true)

    // Wait until the RLPx node's own dial reached us and failed (its Hello, or refused once banned).
    const rlpxDialed = (): boolean => rlpx.discovered.some((d) => d.id === enodeId(p2p.url))
    if (!rlpxDialed()) await rlpx.client.config.events.waitFor(Event.PEER_DISCOVERED, { timeoutMs: WAIT_MS })
    if (inboundFailures === 0) await nextEvent(p2p.server.listener!, 'error')

    // Rediscovery does not lead to another dial: the node is banned in discovery too.
    const rlpxInfo: PeerInfo = { id: Buffer.from(rlpxId, 'hex'), address: '127.0.0.1', udpPort: Number(new URL(rlpx.url).searchParams.get('discport')) }
    const refused = nextEvent<[Error]>(p2p.server.dpt!.events as unknown as EventEmitter, 'error')
    void p2p.server.dpt!.bootstrap(rlpxInfo)
    const [dptErr] = await refused
    expect(dptErr.message).toMatch(/banned/i)
    await rlpx.client.server.bootstrap()

    expect(p2p.server.dialAttempts).toBeLessThanOrEqual(1)
    expect(count(p2p, Event.PEER_ERROR, ([e]) => e instanceof LegacyRlpxPeerBannedError)).toBe(1)
    expect(count(p2p, Event.PEER_CONNECTED)).toBe(0)
    expect(rlpx.discovered.filter((d) => d.id === enodeId(p2p.url))).toHaveLength(1)
    expect(inboundFailures).toBe(1)
    expect(rlpx.client.service.pool.size).toBe(0)
  })

  it('reports a dial to a legacy RLPx node as "remote speaks legacy RLPx" and does not dial it again', async () => {
    const rlpx = await startRlpxClient([], false)
    const p2p = await startP2PNode({ chain: await makeChain(0), bootnodes: [rlpx.url] })
    cleanups.push(() => p2p.stop())
    const [err, peer] = await waitEvent(p2p, Event.PEER_ERROR)
    expect(err).toBeInstanceOf(LegacyRlpxPeerBannedError)
    expect(err.message).toContain('remote speaks legacy RLPx')
    expect(peer.inbound).toBe(false)
    expect(peer.id).toBe(enodeId(rlpx.url))
    // Bootstrapping again (as discovery would report it again) dials nothing: it is banned.
    await p2p.server.bootstrap()
    expect(p2p.server.dialAttempts).toBe(1)
    expect(count(p2p, Event.PEER_ERROR)).toBe(1)
  })
})
