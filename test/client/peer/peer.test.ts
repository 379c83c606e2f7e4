import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Config, Event, Peer, PeerDisconnectedError, RlpxPeer } from '../../../src/client'
import { DisconnectReason } from '../../../src/p2p'
import { buildTestChain } from '../../../src/client/testing/testchain'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

import type { EthereumClient } from '../../../src/client'
import type { TestChain } from '../../../src/client/testing/testchain'

class DetachedPeer extends Peer {
  constructor(config: Config) {
    super({ config, id: 'ab'.repeat(64), address: '10.0.0.1:30303', inbound: true, transport: 'rlpx', protocols: [] })
  }
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
}

const h = (n: number) => new Uint8Array(32).fill(n)

describe('Peer (transport-independent part)', () => {
  const config = new Config({ common: testCommon(), port: 0 })

  it('has no best block and no eth before a handshake', async () => {
    const peer = new DetachedPeer(config)
    expect(peer.eth).toBeUndefined()
    expect(peer.bestHash).toBeUndefined()
    expect(peer.td).toBeUndefined()
    expect(await peer.latest()).toBeUndefined()
    expect(peer.idle).toBe(true)
    expect(peer.toString()).toBe('abababab@10.0.0.1:30303')
  })

  it('keeps the best announcement: by td when both carry one, else by number', () => {
    const peer = new DetachedPeer(config)
    peer.noteAnnouncement({ hash: h(1), number: 10n })
    peer.noteAnnouncement({ hash: h(2), number: 9n })
    expect(peer.bestHash).toEqual(h(1))
    peer.noteAnnouncement({ hash: h(3), number: 11n, td: 100n })
    expect(peer.bestHash).toEqual(h(3))
    expect(peer.td).toBe(100n)
    peer.noteAnnouncement({ hash: h(4), number: 12n, td: 90n })
    expect(peer.bestHash).toEqual(h(3))
    expect(peer.td).toBe(100n)
    peer.noteAnnouncement({ hash: h(5), number: 13n })
    expect(peer.bestHash).toEqual(h(5))
    expect(peer.td).toBe(100n)
  })
})

describe('RlpxPeer', () => {
  let source: TestChain
  const clients: EthereumClient[] = []

  beforeAll(async () => {
    source = await buildTestChain({ common: testCommon(), blocks: 3, txsPerBlock: 1, seed: 'peer' })
  }, 60_000)

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()))
  })

  async function pair() {
    const common = testCommon()
    const a = await startNode({ common, discV4: false, chain: await chainWith(common, source.blocks) })
    clients.push(a.client)
    const b = await startNode({ common, discV4: false, bootnodes: [a.url] })
    clients.push(b.client)
    const toA = await nextPeer(b.client, enodeId(a.url))
    return { a, b, toA }
  }

  it('binds eth over devp2p and knows the remote head', async () => {
    const { a, toA } = await pair()
    expect(toA).toBeInstanceOf(RlpxPeer)
    expect(toA.transport).toBe('rlpx')
    expect(toA.inbound).toBe(false)
    expect(toA.id).toBe(enodeId(a.url))
    expect(toA.id).toHaveLength(128)
    expect(toA.address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(toA.eth?.version).toBe(70)
    expect(bytesToHex(toA.bestHash!)).toBe(bytesToHex(source.blocks[2].hash()))
    const head = await toA.latest()
    expect(head?.number).toBe(3n)
    expect(toA.bestHeader?.number).toBe(3n)
  })

  it('disconnect sends the mapped devp2p reason, fails pending requests at once, and is idempotent', async () => {
    const { a, b, toA } = await pair()
    const leftAtA = a.client.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS })
    const leftAtB = b.client.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS })
    const pending = toA.eth!.getBlockHeaders({ block: 1n, max: 3 })
    const outcome = pending.then(() => 'resolved', (e: unknown) => e)
    await toA.disconnect(DisconnectReason.TOO_MANY_PEERS, 'test')
    await toA.disconnect(DisconnectReason.USELESS_PEER, 'second call')
    const [peerAtA, reasonAtA] = await leftAtA
    expect(peerAtA.id).toBe(enodeId(b.url))
    // A receives the code alone; the first call's reason is the one sent.
    expect(reasonAtA).toBe('too many peers (0x04)')
    const [peerAtB] = await leftAtB
    expect(peerAtB).toBe(toA)
    // Either the answer beat the Disconnect, or the request failed as soon as the session ended.
    const result = await outcome
    if (result !== 'resolved') expect(result).toBeInstanceOf(PeerDisconnectedError)
    expect(toA.eth?.closed).toBe(true)
    await expect(toA.eth!.getBlockHeaders({ block: 1n, max: 1 })).rejects.toBeInstanceOf(PeerDisconnectedError)
  })
})
