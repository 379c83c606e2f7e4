import { afterEach, describe, expect, it, vi } from 'vitest'

import { Config, Event, Peer, PeerPool } from '../../../src/client'
import { DisconnectReason } from '../../../src/p2p'
import { testCommon } from '../helpers/nodes'

import type { Peer as PeerType } from '../../../src/client'

/** A concrete Peer without a transport: enough for the pool, which only tracks peers. */
class DetachedPeer extends Peer {
  readonly disconnects: [DisconnectReason, string | undefined][] = []

  constructor(config: Config, n: number) {
    super({ config, id: n.toString(16).padStart(128, '0'), address: `127.0.0.1:${30000 + n}`, inbound: false, transport: 'rlpx', protocols: [] })
  }

  async connect(): Promise<void> {}

  async disconnect(reason = DisconnectReason.DISCONNECT_REQUESTED, detail?: string): Promise<void> {
    this.disconnects.push([reason, detail])
  }
}

function setup(maxPeers = 3): { config: Config; pool: PeerPool; peers: DetachedPeer[] } {
  const config = new Config({ common: testCommon(), maxPeers, port: 0 })
  const pool = new PeerPool({ config })
  pool.open()
  const peers = [1, 2, 3, 4, 5].map((n) => new DetachedPeer(config, n))
  return { config, pool, peers }
}

function record<E extends Event.POOL_PEER_ADDED | Event.POOL_PEER_REMOVED>(config: Config, event: E): PeerType[] {
  const seen: PeerType[] = []
  config.events.on(event, (peer: PeerType) => seen.push(peer))
  return seen
}

describe('PeerPool', () => {
  let pool: PeerPool | undefined
  afterEach(() => pool?.close())

  it('adds and removes peers, emitting pool events', () => {
    const s = setup()
    pool = s.pool
    const added = record(s.config, Event.POOL_PEER_ADDED)
    const removed = record(s.config, Event.POOL_PEER_REMOVED)
    expect(s.pool.add(s.peers[0])).toBeUndefined()
    expect(s.pool.add(s.peers[1])).toBeUndefined()
    expect(s.pool.add(s.peers[0])).toBe('already in pool')
    expect(s.pool.size).toBe(2)
    expect(s.pool.contains(s.peers[0].id)).toBe(true)
    expect(s.pool.peers).toEqual([s.peers[0], s.peers[1]])
    expect(s.pool.remove(s.peers[0])).toBe(true)
    expect(s.pool.remove(s.peers[0])).toBe(false)
    expect(s.pool.contains(s.peers[0])).toBe(false)
    expect(added).toEqual([s.peers[0], s.peers[1]])
    expect(removed).toEqual([s.peers[0]])
  })

  it('follows PEER_CONNECTED and PEER_DISCONNECTED on the bus', () => {
    const s = setup()
    pool = s.pool
    s.config.events.emit(Event.PEER_CONNECTED, s.peers[0])
    expect(s.pool.contains(s.peers[0])).toBe(true)
    s.config.events.emit(Event.PEER_DISCONNECTED, s.peers[0], 'test')
    expect(s.pool.contains(s.peers[0])).toBe(false)
  })

  it('enforces maxPeers and disconnects the surplus peer', () => {
    const s = setup(2)
    pool = s.pool
    for (const p of s.peers.slice(0, 3)) s.config.events.emit(Event.PEER_CONNECTED, p)
    expect(s.pool.size).toBe(2)
    expect(s.pool.contains(s.peers[2])).toBe(false)
    expect(s.peers[2].disconnects).toEqual([[DisconnectReason.TOO_MANY_PEERS, 'pool full']])
    expect(s.pool.add(s.peers[3])).toBe('pool full')
  })

  it('bans: removes, reports the reason, refuses the peer later and tells the server', () => {
    const s = setup()
    pool = s.pool
    const banned: [PeerType, string][] = []
    s.config.events.on(Event.POOL_PEER_BANNED, (peer, reason) => banned.push([peer, reason]))
    s.pool.add(s.peers[0])
    s.pool.ban(s.peers[0], 'sent garbage', 60_000)
    expect(s.pool.contains(s.peers[0])).toBe(false)
    expect(banned).toEqual([[s.peers[0], 'sent garbage']])
    expect(s.pool.isBanned(s.peers[0].id)).toBe(true)
    expect(s.config.server.isBanned(s.peers[0].id)).toBe(true)
    expect(s.pool.add(s.peers[0])).toBe('banned')
    s.config.events.emit(Event.PEER_CONNECTED, s.peers[0])
    expect(s.peers[0].disconnects).toEqual([[DisconnectReason.USELESS_PEER, 'banned']])
  })

  it('lets a ban expire', () => {
    const s = setup()
    pool = s.pool
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      s.pool.ban(s.peers[0], 'short', 60_000)
      vi.setSystemTime(Date.now() + 59_000)
      expect(s.pool.isBanned(s.peers[0].id)).toBe(true)
      vi.setSystemTime(Date.now() + 2_000)
      expect(s.pool.isBanned(s.peers[0].id)).toBe(false)
      expect(s.config.server.isBanned(s.peers[0].id)).toBe(false)
      expect(s.pool.add(s.peers[0])).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })

  it('offers no idle or best peer until one has a bound eth protocol', () => {
    const s = setup()
    pool = s.pool
    s.pool.add(s.peers[0])
    expect(s.pool.idle()).toBeUndefined()
    expect(s.pool.best()).toBeUndefined()
  })

  it('moves a peer\'s best block forward from announcements, never back', () => {
    const s = setup()
    pool = s.pool
    const peer = s.peers[0]
    s.pool.add(peer)
    const h = (n: number) => new Uint8Array(32).fill(n)
    s.config.events.emit(Event.PROTOCOL_MESSAGE, { name: 'NewBlockHashes', code: 1, data: { hashes: [[h(5), 5n], [h(7), 7n]] } }, 'eth', peer)
    expect(peer.bestHash).toEqual(h(7))
    s.config.events.emit(Event.PROTOCOL_MESSAGE, { name: 'NewBlockHashes', code: 1, data: { hashes: [[h(6), 6n]] } }, 'eth', peer)
    expect(peer.bestHash).toEqual(h(7))
  })

  it('close() unsubscribes and forgets peers', () => {
    const s = setup()
    const before = s.config.events.totalListenerCount()
    s.pool.add(s.peers[0])
    s.pool.close()
    expect(s.pool.size).toBe(0)
    // PEER_CONNECTED, PEER_DISCONNECTED, PROTOCOL_MESSAGE, PEER_REPUTATION
    expect(s.config.events.totalListenerCount()).toBe(before - 4)
    s.config.events.emit(Event.PEER_CONNECTED, s.peers[1])
    expect(s.pool.size).toBe(0)
  })
})
