import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL,
  P2PError,
  type Connection,
  type MuxedStream,
  type TransportListener,
} from '../../src/p2p'
import { waitForEvent } from '../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, readAll, writeAll } from '../p2p/stack/helpers'
import { connectPair, listen, makeNode, type TestNode } from '../p2p/stack/nodes'
import { size } from '../soak/soak'

/**
 * Issue 6, item 5 (stream floods): one peer opens STREAMS streams at once to
 * a node; the node's limits — the Registrar's per-protocol inbound limit
 * (default 32) and the muxer's per-connection inbound stream limit — refuse
 * the excess with typed errors on the flooding side, the flooding connection
 * itself stays usable, and another peer of the same node keeps exchanging
 * data on its own connection all along.
 */

const STREAMS = size('FLOOD_STREAMS', 1000, 5000)
const HOLD = '/hold/1.0.0'
const ECHO = '/echo/1.0.0'
/** Codes a refused stream may fail with on the flooding side. */
const REFUSAL_CODES = new Set(['ERR_CONNECTION_PROTOCOL_NOT_SUPPORTED', 'ERR_CONNECTION_STREAM_NEGOTIATION_FAILED'])

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A node serving HOLD (streams kept open, data drained) and ECHO. */
async function server(opts: Parameters<typeof makeNode>[0] = {}): Promise<{ b: TestNode; l: TransportListener; held: Set<Duplex> }> {
  const b = makeNode(opts)
  const held = new Set<Duplex>()
  b.registrar.handle(HOLD, (stream) => {
    held.add(stream)
    stream.resume()
    // Held until the remote half-closes; then closed from this side too.
    stream.once('end', () => stream.end())
    stream.once('close', () => held.delete(stream))
  })
  b.registrar.handle(ECHO, echo)
  const l = await listen(b)
  cleanups.push(() => l.close())
  return { b, l, held }
}

/** A peer that may open as many HOLD streams as it likes (its own limits lifted). */
function flooder(): TestNode {
  const a = makeNode({ maxOutboundStreams: STREAMS + 10 })
  a.registrar.handle(HOLD, () => {}, { maxOutboundStreams: STREAMS + 10 })
  return a
}

async function echoOnce(conn: Connection): Promise<void> {
  const stream = await conn.newStream(ECHO)
  const data = randomBytes(2048)
  const [got] = await Promise.all([readAll(stream), writeAll(stream, data)])
  expect(got.equals(data)).toBe(true)
}

/** Opens STREAMS streams at once; returns the ones that got through and every refusal. */
async function openAll(conn: Connection, sample: () => void): Promise<{ opened: MuxedStream[]; refused: unknown[] }> {
  const results = await Promise.allSettled(
    Array.from({ length: STREAMS }, () =>
      conn.newStream(HOLD).finally(sample),
    ),
  )
  const opened: MuxedStream[] = []
  const refused: unknown[] = []
  for (const r of results) {
    if (r.status === 'fulfilled') opened.push(r.value)
    else refused.push(r.reason)
  }
  for (const s of opened) s.on('error', () => {})
  return { opened, refused }
}

/** Another peer echoing in a loop until `done` resolves; resolves with the number of round trips. */
async function goodPeerLoop(b: TestNode, l: TransportListener, done: Promise<unknown>): Promise<number> {
  const { out } = await connectPair(makeNode(), b, l)
  cleanups.push(() => closeConnection(out))
  let finished = false
  void done.finally(() => {
    finished = true
  })
  let rounds = 0
  // Bounded: the flood ends in a second or two; 10,000 round trips would take far longer.
  while (!finished && rounds < 10_000) {
    await echoOnce(out)
    rounds++
  }
  return rounds
}

function expectTypedRefusals(refused: unknown[]): void {
  for (const err of refused) {
    expect(err).toBeInstanceOf(P2PError)
    expect(REFUSAL_CODES.has((err as P2PError).code), (err as Error).message).toBe(true)
  }
}

describe('stream floods', () => {
  it(`${STREAMS} streams from one peer stop at the per-protocol limit; other peers are unaffected`, async () => {
    const { b, l, held } = await server()
    const a = flooder()
    const { out, inb } = await connectPair(a, b, l)
    cleanups.push(() => closeConnection(out))
    let maxHeld = 0
    const sample = (): void => {
      maxHeld = Math.max(maxHeld, held.size)
    }
    const flood = openAll(out, sample)
    const rounds = goodPeerLoop(b, l, flood)
    const { opened, refused } = await flood
    expect(await rounds).toBeGreaterThan(0)
    expect(opened.length).toBe(DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL)
    expect(maxHeld).toBeLessThanOrEqual(DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL)
    expect(refused.length).toBe(STREAMS - opened.length)
    // Refused with `na` when the limit is already reached at negotiation, else reset right after it.
    expectTypedRefusals(refused)
    // The flooding connection is fine: ECHO still works on it, and freed HOLD slots can be used again.
    expect(out.status).toBe('open')
    expect(inb.status).toBe('open')
    await echoOnce(out)
    const closed = opened.slice(0, 4)
    await Promise.all(
      closed.map((s) => {
        const done = waitForEvent(s, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
        s.resume()
        s.end()
        return done
      }),
    )
    await out.newStream(HOLD)
  })

  it(`${STREAMS} streams from one peer stop at the muxer's inbound stream limit without closing the connection`, async () => {
    const maxInboundStreams = 100
    const { b, l } = await server({ maxInboundStreams })
    b.registrar.unhandle(HOLD)
    b.registrar.handle(HOLD, (stream) => void stream.resume(), { maxInboundStreams: STREAMS + 10 })
    const a = flooder()
    const { out, inb } = await connectPair(a, b, l)
    cleanups.push(() => closeConnection(out))
    let maxOpenAtB = 0
    const sample = (): void => {
      maxOpenAtB = Math.max(maxOpenAtB, inb.streams.length)
    }
    const flood = openAll(out, sample)
    const rounds = goodPeerLoop(b, l, flood)
    const { opened, refused } = await flood
    expect(await rounds).toBeGreaterThan(0)
    expect(opened.length).toBeGreaterThan(0)
    expect(opened.length).toBeLessThanOrEqual(maxInboundStreams)
    expect(maxOpenAtB).toBeLessThanOrEqual(maxInboundStreams)
    expect(refused.length).toBe(STREAMS - opened.length)
    expectTypedRefusals(refused)
    expect(out.status).toBe('open')
    // One slot is kept for ECHO once the HOLD streams are released.
    for (const s of opened) s.destroy()
    await echoOnce(out)
  })

  it('a remote opening many streams at once makes the node print no MaxListenersExceededWarning', async () => {
    // Each stream negotiation in flight links its signal to the connection's lifetime signal; a remote
    // controls how many are in flight, so it must not be able to make our process print leak warnings.
    const { b, l } = await server()
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    cleanups.push(() => void process.off('warning', onWarning))
    const { out } = await connectPair(flooder(), b, l)
    cleanups.push(() => closeConnection(out))
    const streams = await Promise.all(Array.from({ length: 20 }, () => out.newStream(ECHO)))
    expect(streams).toHaveLength(20)
    await echoOnce(out)
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([])
  })
})
