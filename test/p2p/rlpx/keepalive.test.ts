import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RlpxPingFloodError, RlpxPingTimeoutError } from '../../../src/p2p/rlpx'
import { KeepAlive } from '../../../src/p2p/rlpx/keepalive'

// The keep-alive rules on their own, on fake timers (the session tests run them on real ones).

const OPTS = { pingIntervalMs: 100, pongTimeoutMs: 50, maxPingsPerWindow: 3, pingWindowMs: 1000 }

function keepAlive(opts = OPTS) {
  const events = { pings: 0, timeouts: [] as RlpxPingTimeoutError[], paused: false }
  const ka = new KeepAlive(opts, {
    sendPing: () => events.pings++,
    timedOut: (err) => events.timeouts.push(err),
    readPaused: () => events.paused,
  })
  return { ka, events }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('KeepAlive', () => {
  it('pings every interval while Pongs come back, never two unanswered', () => {
    const { ka, events } = keepAlive()
    ka.start()
    vi.advanceTimersByTime(99)
    expect(events.pings).toBe(0)
    vi.advanceTimersByTime(1)
    expect(events.pings).toBe(1)
    expect(ka.awaitingPong).toBe(true)
    expect(ka.pongReceived()).toBeGreaterThanOrEqual(0)
    expect(ka.pongReceived(), 'an unasked-for Pong').toBeUndefined()
    vi.advanceTimersByTime(100)
    expect(events.pings).toBe(2)
    ka.stop()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('times out a Ping left unanswered for pongTimeoutMs', () => {
    const { ka, events } = keepAlive({ ...OPTS, pongTimeoutMs: 150 })
    ka.start()
    vi.advanceTimersByTime(100 + 149)
    expect(events.timeouts).toHaveLength(0)
    // the next interval passes without a second Ping: one is still unanswered
    expect(events.pings).toBe(1)
    vi.advanceTimersByTime(1)
    expect(events.timeouts).toHaveLength(1)
    expect(events.timeouts[0]!.timeoutMs).toBe(150)
    ka.stop()
  })

  it('does not blame the remote while we are not reading (our backpressure)', () => {
    const { ka, events } = keepAlive()
    ka.start()
    vi.advanceTimersByTime(100)
    events.paused = true
    vi.advanceTimersByTime(500)
    expect(events.timeouts).toHaveLength(0)
    events.paused = false
    vi.advanceTimersByTime(50)
    expect(events.timeouts).toHaveLength(1)
    ka.stop()
  })

  it('counts the remote’s Pings per window and flags the one too many', () => {
    const { ka } = keepAlive()
    expect(ka.pingReceived(10_000)).toBeUndefined()
    expect(ka.pingReceived(10_001)).toBeUndefined()
    expect(ka.pingReceived(10_002)).toBeUndefined()
    expect(ka.pingReceived(10_003)).toBeInstanceOf(RlpxPingFloodError)
    // a new window starts afresh
    expect(ka.pingReceived(11_003)).toBeUndefined()
  })

  it('an interval of Infinity never pings', () => {
    const { ka, events } = keepAlive({ ...OPTS, pingIntervalMs: Infinity })
    ka.start()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(10_000)
    expect(events.pings).toBe(0)
  })
})
