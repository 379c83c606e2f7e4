import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_EVICTION_WINDOW_MS,
  DEFAULT_MAX_EVICTIONS_PER_WINDOW,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP,
  EvictionBudget,
  type InboundRefusedError,
  type InboundUpgradeError,
  type TransportListener,
} from '../../../src/p2p/transport'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, readAll, writeAll } from '../stack/helpers'
import { connectPair, listen, makeNode, type TestNode } from '../stack/nodes'

/**
 * The listener's inbound rate limit (eviction budget) and per-IP pending cap:
 * regression tests for a burst of junk sockets evicting an honest handshake
 * that was already in flight.
 */

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function serverNode(): TestNode {
  const node = makeNode()
  node.registrar.handle('/echo/1', echo)
  return node
}

async function listening(node: TestNode, opts: Parameters<typeof listen>[1]): Promise<TransportListener> {
  const l = await listen(node, opts)
  cleanups.push(() => l.close())
  return l
}

/** Raw sockets that never send a byte, opened one after another (so the listener accepts them in this order). */
async function idleSockets(l: TransportListener, n: number, ports: number[] = []): Promise<net.Socket[]> {
  const sockets: net.Socket[] = []
  cleanups.push(() => sockets.forEach((s) => s.destroy()))
  for (let i = 0; i < n; i++) {
    const s = net.connect(l.address().port, '127.0.0.1')
    s.on('error', () => {})
    s.resume()
    sockets.push(s)
    await waitForEvent(s, 'connect', { timeoutMs: EVENT_TIMEOUT_MS })
    ports.push(s.localPort!) // read now: localPort is gone once the listener drops the socket
  }
  return sockets
}

/** Resolves with the first `n` refusals the listener reports from now on. */
function refusals(l: TransportListener, n: number): Promise<InboundRefusedError[]> {
  const seen: InboundRefusedError[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`only ${seen.length} of ${n} refusals`)), EVENT_TIMEOUT_MS)
    const onRefused = (e: InboundRefusedError): void => {
      if (seen.push(e) === n) done()
    }
    const done = (err?: Error): void => {
      clearTimeout(timer)
      l.off('refused', onRefused)
      if (err === undefined) resolve(seen)
      else reject(err)
    }
    l.on('refused', onRefused)
  })
}

describe('EvictionBudget', () => {
  it('allows max evictions per sliding window, then refuses until the oldest leaves the window', () => {
    let now = 1_000
    const budget = new EvictionBudget(2, 100, () => now)
    expect(budget.take()).toBe(true)
    now += 50
    expect(budget.take()).toBe(true)
    expect(budget.take()).toBe(false)
    expect(budget.remaining).toBe(0)
    now += 50 // the first eviction is now 100 ms old: out of the window
    expect(budget.remaining).toBe(1)
    expect(budget.take()).toBe(true)
    expect(budget.take()).toBe(false)
  })

  it('Infinity is unlimited and 0 allows none', () => {
    const unlimited = new EvictionBudget(Infinity, DEFAULT_EVICTION_WINDOW_MS)
    for (let i = 0; i < 1000; i++) expect(unlimited.take()).toBe(true)
    expect(new EvictionBudget(0, DEFAULT_EVICTION_WINDOW_MS).take()).toBe(false)
  })

  it('documents defaults: one full turnover of the default pending table per second; per-IP cap off', () => {
    expect(DEFAULT_MAX_EVICTIONS_PER_WINDOW).toBe(DEFAULT_MAX_PENDING_HANDSHAKES)
    expect(DEFAULT_EVICTION_WINDOW_MS).toBe(1_000)
    expect(DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP).toBe(Infinity)
  })
})

describe('TransportListener inbound rate limit', () => {
  it('once the eviction budget is spent, a burst replaces only its own newest socket; older handshakes survive', async () => {
    const b = serverNode()
    const l = await listening(b, { maxPendingHandshakes: 4, maxEvictionsPerWindow: 2, evictionWindowMs: 60_000 })
    const earlyPorts: number[] = []
    const early = await idleSockets(l, 4, earlyPorts) // in flight before the burst
    const refused = refusals(l, 6)
    const burstPorts: number[] = []
    const burst = await idleSockets(l, 6, burstPorts)
    const [, , a3, a4] = early
    const ports = (await refused).map((e) => e.remoteAddr.port)
    // Two oldest-first evictions (the budget), then each burst socket replaced the previous burst socket.
    expect(ports).toEqual([earlyPorts[0], earlyPorts[1], ...burstPorts.slice(1, 5)])
    expect((await refused).every((e) => e.reason === 'max-pending-handshakes')).toBe(true)
    expect(l.pendingHandshakes).toBe(4)
    for (const s of [a3, a4, burst[0], burst[5]]) expect(s!.destroyed || s!.readableEnded).toBe(false)
    // A good peer arriving after the burst still gets in (it takes the newest slot).
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    const stream = await out.newStream('/echo/1')
    const data = randomBytes(1000)
    const [got] = await Promise.all([readAll(stream), writeAll(stream, data)])
    expect(got.equals(data)).toBe(true)
  })

  it('maxPendingHandshakesPerIp refuses a host at its cap and admits it again once a slot frees', async () => {
    const b = serverNode()
    const l = await listening(b, { maxPendingHandshakesPerIp: 2 })
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const [first] = await idleSockets(l, 2)
    const refused = refusals(l, 1)
    const thirdPort: number[] = []
    await idleSockets(l, 1, thirdPort)
    const [err] = await refused
    expect(err!.reason).toBe('max-pending-handshakes-per-ip')
    expect(err!.code).toBe('ERR_TRANSPORT_INBOUND_REFUSED')
    expect(err!.remoteAddr.port).toBe(thirdPort[0])
    expect(l.pendingHandshakes).toBe(2)
    first!.destroy() // its handshake fails, freeing the host's slot
    await failed
    expect(l.pendingHandshakes).toBe(1)
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    expect(out.status).toBe('open')
  })

  it('rejects out-of-range options', () => {
    const b = serverNode()
    expect(() => b.transport.createListener({ maxEvictionsPerWindow: -1 })).toThrow(RangeError)
    expect(() => b.transport.createListener({ evictionWindowMs: -1 })).toThrow(RangeError)
    expect(() => b.transport.createListener({ maxPendingHandshakesPerIp: 1.5 })).toThrow(RangeError)
  })
})
