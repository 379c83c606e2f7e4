/**
 * connect: full connection set-up, ours vs legacy devp2p RLPx.
 *
 * Ours: TCP dial, ECIES auth/ack, /mplex/6.7.0 chosen with multistream-select,
 * an ETH stream negotiated (/eth/68/1.0.0), Status sent both ways and
 * validated (network id, genesis, fork id) on both ends.
 * Anchor: two devp2p `RLPx` instances (no DPT): TCP, ECIES, Hello, ETH Status
 * both ways (devp2p validates it).
 *
 * A connection counts as set up when both ends hold a validated Status.
 * Sequential: one at a time; conn/s = count / summed set-up time.
 * 20 at once: batches of 20 dials from 20 identities; conn/s = 20 / batch wall time.
 * Tear-down happens between connections and batches, outside the timed part.
 */
import type { Peer as Devp2pPeer } from '@ethereumjs/devp2p'

import type { Connection } from '../src/p2p'
import { type Bench, type BenchContext, Waiters, hex, roundsFor } from './lib/bench'
import { type StatusSource, statusSource } from './lib/chain'
import { Closer, HOST } from './lib/net'
import { ETH68, type StackNode, closeConnection, dialEth, ethDialerNode, ethSender, exchangeStatus, stackListener, stackNode } from './lib/p2p'
import { row } from './lib/report'
import { alternate, withTimeout } from './lib/rounds'
import { type RlpxNode, listenRlpx, rlpxNode, rlpxStatus } from './lib/rlpx'
import { median, now, p99 } from './lib/stats'

/** Dials at once in the concurrent part (the 20; fewer in quick mode to stay within seconds). */
export const CONCURRENCY = 20
export const QUICK_CONCURRENCY = 10
/** Bound on one connection's set-up or tear-down; only hit when something is broken. */
const STEP_TIMEOUT_MS = 20_000

export interface Sizes {
  sequential: number
  batches: number
  concurrency: number
}

export interface RoundResult {
  seqLatency: number[]
  seqRate: number
  concLatency: number[]
  concRate: number
}

/** One side of the bench: connect dialer `d` once, returning when both ends hold a Status. */
export interface Side {
  connect(d: number): Promise<number>
  teardown(d: number): Promise<void>
}

export async function measure(side: Side, sizes: Sizes): Promise<RoundResult> {
  const seqLatency: number[] = []
  for (let i = 0; i < sizes.sequential; i++) {
    seqLatency.push(await side.connect(0))
    await side.teardown(0)
  }
  const concLatency: number[] = []
  let concMs = 0
  for (let b = 0; b < sizes.batches; b++) {
    const t0 = now()
    const lat = await Promise.all(Array.from({ length: sizes.concurrency }, (_, d) => side.connect(d)))
    concMs += now() - t0
    concLatency.push(...lat)
    await Promise.all(Array.from({ length: sizes.concurrency }, (_, d) => side.teardown(d)))
  }
  const seqMs = seqLatency.reduce((a, b) => a + b, 0)
  return {
    seqLatency,
    seqRate: (seqLatency.length * 1000) / seqMs,
    concLatency,
    concRate: (concLatency.length * 1000) / concMs,
  }
}

/** `carrier: 'rlpx'`: every dialer remembers the server as an RLPx node, so the stack runs the devp2p base protocol instead of mplex. */
export async function oursSide(source: StatusSource, closer: Closer, carrier: 'mplex' | 'rlpx' = 'mplex'): Promise<Side> {
  const server = stackNode()
  const ready = new Waiters()
  server.registrar.handle(ETH68, (stream, conn) => {
    const key = hex(conn.remoteId)
    exchangeStatus(ethSender(stream), source).then(
      () => ready.resolve(key, undefined),
      (err: unknown) => ready.reject(key, err),
    )
  })
  const { listener, port } = await stackListener(server)
  closer.add(() => listener.close())
  const dialers: StackNode[] = Array.from({ length: CONCURRENCY }, () => ethDialerNode())
  if (carrier === 'rlpx') for (const d of dialers) d.upgrader.rememberRlpx(server.id)
  const conns = new Map<number, Connection>()
  return {
    async connect(d) {
      const dialer = dialers[d]!
      const t0 = now()
      const serverDone = ready.wait(hex(dialer.id))
      const { conn } = await withTimeout(dialEth(dialer, port, server.id, source), STEP_TIMEOUT_MS, 'P2P connect')
      conns.set(d, conn)
      await withTimeout(serverDone, STEP_TIMEOUT_MS, 'P2P listener Status')
      return now() - t0
    },
    async teardown(d) {
      const conn = conns.get(d)
      conns.delete(d)
      if (conn !== undefined) await withTimeout(closeConnection(conn), STEP_TIMEOUT_MS, 'P2P close')
    },
  }
}

export async function rlpxSide(source: StatusSource, closer: Closer): Promise<Side> {
  const server = rlpxNode(4 * CONCURRENCY)
  const port = await listenRlpx(server)
  closer.add(() => server.rlpx.destroy())
  const ready = new Waiters()
  server.rlpx.events.on('peer:added', (peer: Devp2pPeer) => {
    const key = hex(peer.getId() ?? new Uint8Array())
    rlpxStatus(peer, source).then(
      () => ready.resolve(key, undefined),
      (err: unknown) => ready.reject(key, err),
    )
  })
  const dialers: RlpxNode[] = Array.from({ length: CONCURRENCY }, () => rlpxNode(1))
  for (const d of dialers) closer.add(() => d.rlpx.destroy())
  return {
    async connect(d) {
      const dialer = dialers[d]!
      const t0 = now()
      const serverDone = ready.wait(hex(dialer.id))
      const dialerDone = new Promise<void>((resolve, reject) => {
        dialer.rlpx.events.once('peer:added', (peer: Devp2pPeer) => rlpxStatus(peer, source).then(resolve, reject))
      })
      await dialer.rlpx.connect({ id: server.id, address: HOST, tcpPort: port })
      await withTimeout(Promise.all([dialerDone, serverDone]), STEP_TIMEOUT_MS, 'RLPx connect')
      return now() - t0
    },
    async teardown(d) {
      const dialer = dialers[d]!
      const removed = new Promise<void>((resolve) => dialer.rlpx.events.once('peer:removed', () => resolve()))
      dialer.rlpx.disconnect(server.id)
      // The listener answers Disconnect by ending the socket; the dialer's side closes with it.
      await withTimeout(removed, STEP_TIMEOUT_MS, 'RLPx disconnect')
    },
  }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 5, 2)
  const sizes: Sizes = ctx.quick
    ? { sequential: 3, batches: 1, concurrency: QUICK_CONCURRENCY }
    : { sequential: 40, batches: 3, concurrency: CONCURRENCY }
  const source = await statusSource()
  const closer = new Closer()
  try {
    const ours = await oursSide(source, closer)
    const rlpx = await rlpxSide(source, closer)
    const warm: Sizes = { sequential: 2, batches: 0, concurrency: 0 }
    const res = await alternate<RoundResult>({
      rounds,
      label: 'connect',
      log: ctx.log,
      warmup: { ours: () => measure(ours, warm), anchor: () => measure(rlpx, warm) },
      ours: () => measure(ours, sizes),
      anchor: () => measure(rlpx, sizes),
    })
    const o = res.ours
    const a = res.anchor
    const pooled = (rs: RoundResult[], k: 'seqLatency' | 'concLatency') => rs.flatMap((r) => r[k])
    const anchorName = 'devp2p RLPx'
    const note = `${sizes.sequential} seq + ${sizes.batches}×${sizes.concurrency} per round`
    const at = `${sizes.concurrency} at once`
    return {
      bench: 'connect',
      rounds,
      headline: 0,
      rows: [
        row({ metric: 'sequential', unit: 'conn/s', better: 'higher', ours: median(o.map((r) => r.seqRate)), anchor: median(a.map((r) => r.seqRate)), anchorName, target: 5, note }),
        row({ metric: at, unit: 'conn/s', better: 'higher', ours: median(o.map((r) => r.concRate)), anchor: median(a.map((r) => r.concRate)), anchorName, target: 5 }),
        row({ metric: 'latency p50, sequential', unit: 'ms', better: 'lower', ours: median(pooled(o, 'seqLatency')), anchor: median(pooled(a, 'seqLatency')), anchorName }),
        row({ metric: 'latency p99, sequential', unit: 'ms', better: 'lower', ours: p99(pooled(o, 'seqLatency')), anchor: p99(pooled(a, 'seqLatency')), anchorName }),
        row({ metric: `latency p50, ${at}`, unit: 'ms', better: 'lower', ours: median(pooled(o, 'concLatency')), anchor: median(pooled(a, 'concLatency')), anchorName }),
        row({ metric: `latency p99, ${at}`, unit: 'ms', better: 'lower', ours: p99(pooled(o, 'concLatency')), anchor: p99(pooled(a, 'concLatency')), anchorName }),
      ],
      notes: [
        'ours: TCP + ECIES + mplex (multistream-select) + /eth/68 stream + Status both ways, validated; anchor: devp2p RLPx + ECIES + Hello + ETH Status',
        'conn/s = median over rounds; latencies pooled over all rounds (dial start until both ends hold a validated Status)',
      ],
    }
  } finally {
    await closer.run()
  }
}

export const connect: Bench = {
  name: 'connect',
  description: 'connection set-up (TCP, ECIES, mplex, ETH stream, Status) vs devp2p RLPx (TCP, ECIES, Hello, Status): conn/s, latency',
  run,
}
