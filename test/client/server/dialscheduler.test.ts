import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { DialScheduler, type DialTarget } from '../../../src/client/net/server/dialscheduler'

import type { PeerInfo } from '@ethereumjs/devp2p'

const LOCAL = new Uint8Array(64).fill(0x80)
const BACKOFF_MS = 30_000
const YIELD_MS = 3_000

/** A node id below (0x10...) or above (0xf0...) ours, told apart by its last byte. */
function node(n: number, side: 'below' | 'above' = 'above'): PeerInfo {
  const id = new Uint8Array(64).fill(side === 'below' ? 0x10 : 0xf0)
  id[63] = n
  return { id, address: '127.0.0.1', udpPort: 30_000 + n, tcpPort: 31_000 + n }
}

const hex = (info: PeerInfo): string => Buffer.from(info.id!).toString('hex')

interface Harness {
  scheduler: DialScheduler
  dialed: DialTarget[]
  slots: { used: number; max: number }
  engaged: Set<string>
  /** Dials not finished yet (see finish). */
  inProgress: Set<string>
}

function harness(opts: { yieldToLowerIdMs?: number; reconnectYieldMs?: number; maxCandidates?: number; known?: PeerInfo[]; maxConcurrentDials?: number } = {}): Harness {
  const dialed: DialTarget[] = []
  const inProgress = new Set<string>()
  const slots = { used: 0, max: 1 }
  const engaged = new Set<string>()
  const scheduler = new DialScheduler({
    localId: LOCAL,
    maxCandidates: () => opts.maxCandidates ?? 4,
    yieldToLowerIdMs: opts.yieldToLowerIdMs ?? 0,
    reconnectYieldMs: opts.reconnectYieldMs ?? 0,
    redialBackoffMs: BACKOFF_MS,
    maxConcurrentDials: opts.maxConcurrentDials ?? 100,
    dialsInProgress: () => inProgress.size,
    eligible: (id) => !engaged.has(id),
    hasFreeSlot: () => slots.used < slots.max,
    known: () => opts.known ?? [],
    dial: (t) => {
      dialed.push(t)
      slots.used++
      engaged.add(t.id)
      inProgress.add(t.id)
    },
  })
  return { scheduler, dialed, slots, engaged, inProgress }
}

/** Frees the slot of a finished dial (its session ended). */
function release(h: Harness, info: PeerInfo): void {
  h.slots.used--
  h.engaged.delete(hex(info))
  h.inProgress.delete(hex(info))
}

/** The dial of `info` got through its handshake: the session keeps the slot. */
function finish(h: Harness, info: PeerInfo): void {
  h.inProgress.delete(hex(info))
}

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('DialScheduler', () => {
  it('dials into a free slot, queues while slots are full, and refills oldest first', () => {
    const h = harness()
    h.scheduler.offer(node(1), true)
    h.scheduler.offer(node(2), true)
    h.scheduler.offer(node(3), true)
    h.scheduler.offer(node(2), true) // already queued: not twice
    expect(h.dialed.map((t) => t.port)).toEqual([31_001])
    expect(h.scheduler.queued).toBe(2)
    expect(h.scheduler.attempts).toBe(1)
    release(h, node(1))
    h.scheduler.refill()
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002])
    expect(h.dialed[1]).toMatchObject({ id: hex(node(2)), host: '127.0.0.1', remoteId: node(2).id })
    expect(h.scheduler.queued).toBe(1)
  })

  it('keeps at most maxConcurrentDials in progress; the rest wait and go as dials finish', () => {
    const h = harness({ maxConcurrentDials: 2 })
    h.slots.max = 10
    for (let i = 1; i <= 4; i++) h.scheduler.offer(node(i), true)
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002])
    expect(h.scheduler.queued).toBe(2)
    finish(h, node(1)) // connected: the session keeps its slot, the dial is over
    h.scheduler.refill()
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002, 31_003])
    release(h, node(2)) // failed
    h.scheduler.refill()
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002, 31_003, 31_004])
    expect(h.scheduler.queued).toBe(0)
  })

  it('keeps at most maxCandidates queued', () => {
    const h = harness({ maxCandidates: 2 })
    for (let n = 1; n <= 5; n++) h.scheduler.offer(node(n), true)
    expect(h.dialed).toHaveLength(1)
    expect(h.scheduler.queued).toBe(2)
  })

  it('never dials itself, a node without a TCP port, or one the server calls ineligible', () => {
    const h = harness()
    h.slots.max = 10
    h.scheduler.offer({ id: LOCAL, address: '127.0.0.1', udpPort: 1, tcpPort: 1 }, true)
    h.scheduler.offer({ ...node(1), tcpPort: null }, true)
    h.scheduler.offer({ ...node(2), tcpPort: 0 }, true)
    h.engaged.add(hex(node(3)))
    h.scheduler.offer(node(3), true)
    expect(h.dialed).toEqual([])
    h.scheduler.offer(node(4), true)
    expect(h.dialed).toHaveLength(1)
  })

  it('lets the node with the lower id dial first: a discovered lower id is dialed only after the yield period', () => {
    const h = harness({ yieldToLowerIdMs: YIELD_MS })
    h.slots.max = 10
    h.scheduler.offer(node(1, 'below'), true)
    h.scheduler.offer(node(1, 'below'), true) // one postponed dial per node
    h.scheduler.offer(node(2, 'above'), true)
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(2, 'above'))])
    vi.advanceTimersByTime(YIELD_MS - 1)
    expect(h.dialed).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(2, 'above')), hex(node(1, 'below'))])
    // A bootnode (not from discovery) is dialed at once whatever its id.
    h.scheduler.offer(node(3, 'below'), false)
    expect(h.dialed).toHaveLength(3)
  })

  it('does not postpone a dial whose remote connected to us meanwhile', () => {
    const h = harness({ yieldToLowerIdMs: YIELD_MS })
    h.scheduler.offer(node(1, 'below'), true)
    h.engaged.add(hex(node(1, 'below'))) // the remote dialed us first, as the rule intends
    vi.advanceTimersByTime(YIELD_MS)
    expect(h.dialed).toEqual([])
  })

  it('backs off a node whose dial failed for redialBackoffMs', () => {
    const h = harness()
    h.scheduler.offer(node(1), true)
    release(h, node(1))
    h.scheduler.dialFailed(hex(node(1)))
    h.scheduler.offer(node(1), true)
    expect(h.dialed).toHaveLength(1)
    vi.advanceTimersByTime(BACKOFF_MS)
    h.scheduler.offer(node(1), true)
    expect(h.dialed).toHaveLength(2)
  })

  it('tries the known nodes again when a redial backoff ends, with nothing else to trigger it', () => {
    // Two nodes that refused each other (both full at that moment) would otherwise never meet:
    // discovery reports a node once, and no slot change may follow.
    const h = harness({ known: [node(1), node(2)] })
    h.slots.max = 2
    h.scheduler.offer(node(1), true)
    h.scheduler.offer(node(2), true)
    release(h, node(1))
    release(h, node(2))
    h.scheduler.dialFailed(hex(node(1)))
    vi.advanceTimersByTime(1_000)
    h.scheduler.dialFailed(hex(node(2)))
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(BACKOFF_MS - 1_000 + 1)
    // node 1's backoff is over: redialed; node 2 is still in its own, and a timer waits for it.
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002, 31_001])
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1_000)
    expect(h.dialed.map((t) => t.port)).toEqual([31_001, 31_002, 31_001, 31_002])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('gives a freed slot with nothing queued to a known node without a session (a lost connection comes back)', () => {
    const self = { id: LOCAL, address: '127.0.0.1', udpPort: 1, tcpPort: 1 }
    const h = harness({ known: [self, node(1), node(2), node(3)] })
    h.slots.max = 2
    h.engaged.add(hex(node(1))) // connected already
    h.scheduler.dialFailed(hex(node(2))) // in its backoff
    h.scheduler.refill()
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(3))])
    expect(h.scheduler.attempts).toBe(1)
    // Queued nodes go first; the table only fills what is left.
    const q = harness({ known: [node(5)] })
    q.scheduler.offer(node(4), true)
    release(q, node(4))
    q.scheduler.offer(node(6), true)
    expect(q.dialed.map((t) => t.port)).toEqual([31_004, 31_006])
    release(q, node(6))
    q.scheduler.refill()
    expect(q.dialed.map((t) => t.port)).toEqual([31_004, 31_006, 31_005])
  })

  it('refilling from the table, lets the lower id redial first (both ends lost the connection at once)', () => {
    const h = harness({ reconnectYieldMs: YIELD_MS, known: [node(1, 'below'), node(2, 'above')] })
    h.slots.max = 3
    h.scheduler.refill()
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(2, 'above'))])
    h.scheduler.refill() // a second refill does not dial the yielding node either
    vi.advanceTimersByTime(YIELD_MS)
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(2, 'above')), hex(node(1, 'below'))])
  })

  it('forget() drops a queued node and its postponed dial; clear() drops everything', () => {
    const h = harness({ yieldToLowerIdMs: YIELD_MS })
    h.scheduler.offer(node(1), true) // dialed, fills the only slot
    h.scheduler.offer(node(2), true) // queued
    h.scheduler.offer(node(3, 'below'), true) // postponed
    h.scheduler.forget(hex(node(2)))
    h.scheduler.forget(hex(node(3, 'below')))
    expect(h.scheduler.queued).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    h.scheduler.offer(node(4), true)
    h.scheduler.offer(node(5, 'below'), true)
    h.scheduler.dialFailed(hex(node(6)))
    h.scheduler.clear()
    expect(h.scheduler.queued).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    release(h, node(1))
    h.scheduler.offer(node(6), true) // its backoff is gone too
    expect(h.dialed.map((t) => t.id)).toEqual([hex(node(1)), hex(node(6))])
  })
})
