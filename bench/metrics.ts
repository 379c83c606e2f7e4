/**
 * metrics: what counting costs. The same workloads with metrics on (ours) and
 * off (anchor), alternating in one process run: bulk's 1 MiB ETH messages
 * over one stream, with each end's StreamSender reporting to a MessageTally,
 * and reqresp's GetBlockHeaders(192) through two whole clients, each with
 * `metricsPort` set (tally, NodeMetrics on the bus, HTTP listener; nothing
 * scrapes). ratio = on ÷ off: 1 means free, 0.97 is the 3 % budget.
 *
 * Sessions made earlier in the process measured faster than later ones, by
 * up to 2× on a loaded machine, whatever they counted; so each side has two
 * sessions, made in mirrored order (on, off, off, on), and a round of a side
 * runs both of its sessions.
 */
import { MessageTally } from '../src/client/metrics/tally'
import type { Peer } from '../src/client/net/peer/peer'
import { type Sizes as BulkSizes, MESSAGE_BYTES, type Transfer, oursSession, rate } from './bulk'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { Closer, noise } from './lib/net'
import { row } from './lib/report'
import { alternate } from './lib/rounds'
import { median, now } from './lib/stats'
import { CHAIN, type RoundResult, type Sizes as ReqSizes, measure, session } from './reqresp'

const MiB = 1024 * 1024

async function bulkRows(ctx: BenchContext, rounds: number, closer: Closer) {
  const sizes: BulkSizes = ctx.quick ? { totalBytes: 16 * MiB, capMs: 1_500 } : { totalBytes: 256 * MiB, capMs: 20_000 }
  const payload = noise(MESSAGE_BYTES, 11)
  const counting = () => oursSession(payload, closer, { dialer: new MessageTally(), listener: new MessageTally() })
  const [on, off] = await mirrored(counting, () => oursSession(payload, closer), both)
  const warm: BulkSizes = { totalBytes: 4 * MiB, capMs: 1_000 }
  const res = await alternate<Transfer>({ rounds, label: 'metrics bulk', log: ctx.log, warmup: { ours: () => on(warm), anchor: () => off(warm) }, ours: () => on(sizes), anchor: () => off(sizes) })
  return row({ metric: 'bulk 1 MiB ETH messages', unit: 'MB/s', better: 'higher', ours: median(res.ours.map(rate)), anchor: median(res.anchor.map(rate)), anchorName: 'metrics off', target: 0.97, note: `${Math.round(sizes.totalBytes / MiB)} MiB per round, both ends counting` })
}

async function reqrespRows(ctx: BenchContext, rounds: number, closer: Closer) {
  const chain = ctx.quick ? CHAIN.quick : CHAIN.full
  const sizes: ReqSizes = ctx.quick ? { sequential: 20, parallel: 128, blocks: chain.blocks } : { sequential: 200, parallel: 640, blocks: chain.blocks }
  const [onPeers, offPeers] = await mirrored(() => session('p2p', chain, closer, { metricsPort: 0 }), () => session('p2p', chain, closer), (a, b) => [a, b] as const)
  const on = (s: ReqSizes) => measureBoth(onPeers, s)
  const off = (s: ReqSizes) => measureBoth(offPeers, s)
  const warm: ReqSizes = { sequential: 5, parallel: 32, blocks: chain.blocks }
  const res = await alternate<RoundResult>({ rounds, label: 'metrics reqresp', log: ctx.log, warmup: { ours: () => on(warm), anchor: () => off(warm) }, ours: () => on(sizes), anchor: () => off(sizes) })
  const m = (rs: RoundResult[], k: 'seqRate' | 'parRate') => median(rs.map((r) => r[k]))
  return [
    row({ metric: 'reqresp 1 in flight', unit: 'req/s', better: 'higher', ours: m(res.ours, 'seqRate'), anchor: m(res.anchor, 'seqRate'), anchorName: 'metrics off', target: 0.97, note: `${sizes.sequential} GetBlockHeaders(192) per round` }),
    row({ metric: 'reqresp 32 in flight', unit: 'req/s', better: 'higher', ours: m(res.ours, 'parRate'), anchor: m(res.anchor, 'parRate'), anchorName: 'metrics off', target: 0.97, note: `${sizes.parallel} GetBlockHeaders(192) per round` }),
  ]
}

/** Makes the sessions in the order on, off, off, on; each side's pair combined by `join`. */
async function mirrored<S, T>(makeOn: () => Promise<S>, makeOff: () => Promise<S>, join: (a: S, b: S) => T): Promise<[T, T]> {
  const on1 = await makeOn()
  const off1 = await makeOff()
  const off2 = await makeOff()
  const on2 = await makeOn()
  return [join(on1, on2), join(off1, off2)]
}

/** Two bulk sessions as one: half the bytes over each, rates combined over the total time. */
function both(a: (s: BulkSizes) => Promise<Transfer>, b: (s: BulkSizes) => Promise<Transfer>) {
  return async (s: BulkSizes): Promise<Transfer> => {
    const half = { totalBytes: s.totalBytes / 2, capMs: s.capMs / 2 }
    const x = await a(half)
    const y = await b(half)
    return { bytes: x.bytes + y.bytes, ms: x.ms + y.ms }
  }
}

/** One reqresp round over both sessions of a side: rates are the mean of the two. */
async function measureBoth(peers: readonly [Peer, Peer], sizes: ReqSizes): Promise<RoundResult> {
  const x = await measure(peers[0], sizes)
  const y = await measure(peers[1], sizes)
  return { seqRate: (x.seqRate + y.seqRate) / 2, parRate: (x.parRate + y.parRate) / 2, seqLatency: [...x.seqLatency, ...y.seqLatency], parLatency: [...x.parLatency, ...y.parLatency] }
}

/** Nanoseconds per tally call, in a tight loop: the hot-path cost alone, whatever the load does to the rates. */
function tallyCost(quick: boolean): { message: number; request: number } {
  const tally = new MessageTally()
  const n = quick ? 200_000 : 2_000_000
  let t0 = now()
  for (let i = 0; i < n; i++) tally.message(i & 1 ? 'inbound' : 'outbound', 68, i & 0x0f, 100)
  const message = ((now() - t0) * 1e6) / n
  t0 = now()
  for (let i = 0; i < n; i++) tally.request('GetBlockHeaders', 'answered', 0.001)
  const request = ((now() - t0) * 1e6) / n
  return { message, request }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 5, 2)
  const closer = new Closer()
  try {
    const cost = tallyCost(ctx.quick)
    const rows = [await bulkRows(ctx, rounds, closer), ...(await reqrespRows(ctx, rounds, closer))]
    return {
      bench: 'metrics',
      rounds,
      headline: 2,
      rows,
      notes: [
        'ours = metrics on, anchor = the same workload with metrics off; ratio = on ÷ off (target >= 0.97: at most 3 % cost)',
        'rates are medians over rounds, sides alternating; each side runs two sessions made in mirrored order',
        `hot-path cost: ${cost.message.toFixed(1)} ns per message counted, ${cost.request.toFixed(1)} ns per request outcome (tight loop); a GetBlockHeaders round trip counts 4 messages and 1 outcome`,
      ],
    }
  } finally {
    await closer.run()
  }
}

export const metrics: Bench = {
  name: 'metrics',
  description: 'cost of metrics: bulk and reqresp with metrics on vs off (ratio on/off)',
  run,
}
