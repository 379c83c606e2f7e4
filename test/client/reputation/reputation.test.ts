import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { Config, Event, Peer, PeerPool } from '../../../src/client'
import {
  BAN_THRESHOLD,
  DEFAULT_REPUTATION_HALF_LIFE_MS,
  DISCONNECT_THRESHOLD,
  MAX_SCORE,
  MIN_SCORE,
  REPUTATION_WEIGHTS,
  Reputation,
  ReputationEvent,
  verdictOf,
} from '../../../src/client/net/reputation'
import { IDLE_SCORE_BAND } from '../../../src/client/net/peerpool'
import { EventBus } from '../../../src/client/types'
import { DisconnectReason } from '../../../src/p2p'
import { testCommon } from '../helpers/nodes'

import type { BoundEthProtocol } from '../../../src/client/net/protocol/boundethprotocol'

/** A Peer without a transport: the pool and the table only need its id; eth marks it usable for idle(). */
class DetachedPeer extends Peer {
  readonly disconnects: DisconnectReason[] = []

  constructor(config: Config, n: number) {
    super({ config, id: n.toString(16).padStart(128, '0'), address: `127.0.0.1:${30000 + n}`, inbound: false, transport: 'rlpx', protocols: [] })
    this.eth = { version: 68, status: { td: 0n, bestHash: new Uint8Array(32) } } as unknown as BoundEthProtocol
  }

  async connect(): Promise<void> {}

  async disconnect(reason = DisconnectReason.DISCONNECT_REQUESTED): Promise<void> {
    this.disconnects.push(reason)
  }
}

const HALF_LIFE = DEFAULT_REPUTATION_HALF_LIFE_MS

describe('Reputation table', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => vi.useRealTimers())

  function table(size?: number): { rep: Reputation; config: Config; peer: (n: number) => DetachedPeer } {
    const config = new Config({ common: testCommon(), port: 0 })
    const rep = new Reputation({ events: new EventBus(), tableSize: size })
    return { rep, config, peer: (n) => new DetachedPeer(config, n) }
  }

  it('moves the score by the documented weights and clamps it to [MIN_SCORE, MAX_SCORE]', () => {
    const { rep, peer } = table()
    const p = peer(1)
    expect(rep.score(p.id)).toBe(0)
    expect(rep.report(p, ReputationEvent.TIMEOUT).score).toBe(REPUTATION_WEIGHTS.timeout)
    for (let i = 0; i < 100; i++) rep.report(p, ReputationEvent.SERVED)
    expect(rep.score(p.id)).toBe(MAX_SCORE)
    expect(rep.report(p, ReputationEvent.PROTOCOL_VIOLATION).score).toBe(MIN_SCORE)
    expect(rep.report(p, ReputationEvent.INVALID_DATA).score).toBe(MIN_SCORE)
  })

  it('decays towards 0 with the half-life, from both sides', () => {
    const { rep, peer } = table()
    const bad = peer(1)
    const good = peer(2)
    rep.report(bad, ReputationEvent.USELESS)
    for (let i = 0; i < 8; i++) rep.report(good, ReputationEvent.SERVED)
    vi.advanceTimersByTime(HALF_LIFE)
    expect(rep.score(bad.id)).toBeCloseTo(REPUTATION_WEIGHTS.useless / 2, 6)
    expect(rep.score(good.id)).toBeCloseTo(4, 6)
    vi.advanceTimersByTime(9 * HALF_LIFE)
    expect(Math.abs(rep.score(bad.id))).toBeLessThan(0.01)
    // A new event starts from the decayed score, not the old one.
    expect(rep.report(bad, ReputationEvent.SERVED).score).toBeCloseTo(1, 1)
  })

  it('says how long a low score takes to recover above the disconnect threshold', () => {
    const { rep, peer } = table()
    const p = peer(1)
    rep.report(p, ReputationEvent.PROTOCOL_VIOLATION)
    const ms = rep.msUntilAbove(p.id)
    expect(ms).toBeCloseTo(HALF_LIFE * Math.log2(MIN_SCORE / DISCONNECT_THRESHOLD), -2)
    vi.advanceTimersByTime(ms - 1000)
    expect(rep.score(p.id)).toBeLessThanOrEqual(DISCONNECT_THRESHOLD)
    vi.advanceTimersByTime(1000)
    expect(rep.score(p.id)).toBeGreaterThan(DISCONNECT_THRESHOLD)
    expect(rep.msUntilAbove(p.id)).toBe(0)
  })

  it('verdicts follow the thresholds', () => {
    expect(verdictOf(DISCONNECT_THRESHOLD + 0.1)).toBe('keep')
    expect(verdictOf(DISCONNECT_THRESHOLD)).toBe('disconnect')
    expect(verdictOf(BAN_THRESHOLD + 0.1)).toBe('disconnect')
    expect(verdictOf(BAN_THRESHOLD)).toBe('ban')
  })

  it('keeps a bounded table, forgetting the least recently touched node', () => {
    const { rep, peer } = table(2)
    const [a, b, c] = [peer(1), peer(2), peer(3)]
    rep.report(a, ReputationEvent.TIMEOUT)
    rep.report(b, ReputationEvent.TIMEOUT)
    rep.report(c, ReputationEvent.TIMEOUT)
    expect(rep.score(a.id)).toBe(0)
    expect(rep.score(b.id)).toBe(REPUTATION_WEIGHTS.timeout)
    expect(rep.score(c.id)).toBe(REPUTATION_WEIGHTS.timeout)
  })

  it('announces every change on the bus', () => {
    const { config, peer } = table()
    const seen: [string, string][] = []
    config.events.on(Event.PEER_REPUTATION, (p, change) => seen.push([p.id.slice(-1), `${change.event}:${change.verdict}`]))
    config.reputation.report(peer(1), ReputationEvent.SERVED)
    config.reputation.report(peer(2), ReputationEvent.INVALID_DATA)
    expect(seen).toEqual([['1', 'served:keep'], ['2', 'invalid_data:ban']])
  })
})

describe('PeerPool and reputation', () => {
  let pool: PeerPool | undefined
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] }))
  afterEach(() => {
    pool?.close()
    vi.useRealTimers()
  })

  function setup(): { config: Config; pool: PeerPool; peers: DetachedPeer[] } {
    const config = new Config({ common: testCommon(), port: 0 })
    pool = new PeerPool({ config })
    pool.open()
    const peers = [1, 2, 3, 4].map((n) => new DetachedPeer(config, n))
    for (const p of peers) pool.add(p)
    return { config, pool, peers }
  }

  it('disconnects a fresh peer at its 4th timeout in a row, not before, and refuses it until it recovers', () => {
    const { config, pool, peers } = setup()
    const p = peers[0]!
    for (let i = 0; i < 3; i++) config.reputation.report(p, ReputationEvent.TIMEOUT)
    expect(pool.contains(p)).toBe(true)
    expect(p.disconnects).toEqual([])
    config.reputation.report(p, ReputationEvent.TIMEOUT)
    expect(pool.contains(p)).toBe(false)
    expect(p.disconnects).toEqual([DisconnectReason.USELESS_PEER])
    expect(config.server.isBanned(p.id)).toBe(true)
    // A new session of the same node keeps the record and is refused.
    const again = new DetachedPeer(config, 1)
    expect(again.score).toBeLessThanOrEqual(DISCONNECT_THRESHOLD)
    expect(pool.add(again)).toBe('low reputation')
    vi.advanceTimersByTime(config.reputation.msUntilAbove(p.id))
    expect(pool.add(again)).toBeUndefined()
    expect(config.server.isBanned(p.id)).toBe(false)
  })

  it('bans at once for invalid data, even a peer at the top score; after the ban it is refused until it recovers', () => {
    const { config, pool, peers } = setup()
    const p = peers[1]!
    const banned: string[] = []
    config.events.on(Event.POOL_PEER_BANNED, (_peer, reason) => banned.push(reason))
    for (let i = 0; i < 50; i++) config.reputation.report(p, ReputationEvent.SERVED)
    expect(p.score).toBe(MAX_SCORE)
    config.reputation.report(p, ReputationEvent.INVALID_DATA)
    expect(pool.contains(p)).toBe(false)
    expect(pool.isBanned(p.id)).toBe(true)
    expect(banned).toHaveLength(1)
    expect(banned[0]).toMatch(/^reputation -50\.0 after invalid_data$/)
    expect(p.score).toBe(BAN_THRESHOLD)
    // Reported again (the protocol error of the same reply): no second ban.
    pool.ban(p, 'protocol error: same reply')
    expect(banned).toHaveLength(1)
    vi.advanceTimersByTime(config.banTimeMs + 1)
    expect(pool.isBanned(p.id)).toBe(false)
    expect(pool.add(new DetachedPeer(config, 2))).toBe('low reputation')
  })

  it('prefers better-scored peers in idle() and best()', () => {
    const { config, pool, peers } = setup()
    const [good, ok, slow, bad] = peers as [DetachedPeer, DetachedPeer, DetachedPeer, DetachedPeer]
    for (let i = 0; i < 10; i++) config.reputation.report(good, ReputationEvent.SERVED)
    for (let i = 0; i < 7; i++) config.reputation.report(ok, ReputationEvent.SERVED)
    config.reputation.report(slow, ReputationEvent.TIMEOUT)
    config.reputation.report(bad, ReputationEvent.TIMEOUT)
    config.reputation.report(bad, ReputationEvent.TIMEOUT)
    expect(good.score - ok.score).toBeLessThanOrEqual(IDLE_SCORE_BAND)
    const picked = new Set<string>()
    for (let i = 0; i < 200; i++) picked.add(pool.idle()!.id)
    expect([...picked].sort()).toEqual([good.id, ok.id].sort())
    // Same head everywhere: the score decides.
    expect(pool.best()).toBe(good)
    expect(pool.idle((p) => p === slow || p === bad)).toBe(slow)
  })
})
