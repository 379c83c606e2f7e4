/**
 * rlpx: the modular stack talking RLPx (its own devp2p base protocol:
 * Hello, snappy, capability streams) vs @ethereumjs/devp2p's RLPx, in the
 * same run. Three parts, each alternating ours and the anchor:
 *
 * - set-up: TCP, ECIES, Hello both ways, the eth/68 capability stream,
 *   Status both ways validated (connect.ts's sides; ours dials the server as
 *   a remembered RLPx node, so no multistream-select attempt first);
 * - round trips: GetBlockHeaders(192) between two EthereumClients, P2PServer
 *   to P2PServer over RLPx vs RlpxServer to RlpxServer (reqresp.ts's sides);
 * - bulk: 1 MiB eth messages one way over one session, snappy-compressed on
 *   both sides (incompressible noise, so snappy only costs), vs devp2p's ETH
 *   (bulk.ts's sides).
 */
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { statusSource } from './lib/chain'
import { Closer, noise } from './lib/net'
import { row } from './lib/report'
import { alternate } from './lib/rounds'
import { median, p99 } from './lib/stats'
import { MESSAGE_BYTES, MiB, type Sizes as BulkSizes, type Transfer, oursSession, rate, rlpxSession } from './bulk'
import { CONCURRENCY, QUICK_CONCURRENCY, type Side, type RoundResult as SetupResult, type Sizes as SetupSizes, measure as measureSetup, oursSide, rlpxSide } from './connect'
import { CHAIN, type RoundResult as RoundTrips, type Sizes as RoundTripSizes, measure as measureRoundTrips, session } from './reqresp'

const ANCHOR = 'devp2p RLPx'

/** One part of the bench: `measure` run on ours and the anchor alternately, after a warm-up with `warm`. */
function compare<S, Z, T>(ctx: BenchContext, rounds: number, label: string, sides: { ours: S; anchor: S }, measure: (side: S, sizes: Z) => Promise<T>, sizes: Z, warm: Z) {
  return alternate<T>({
    rounds,
    label,
    log: ctx.log,
    warmup: { ours: () => measure(sides.ours, warm), anchor: () => measure(sides.anchor, warm) },
    ours: () => measure(sides.ours, sizes),
    anchor: () => measure(sides.anchor, sizes),
  })
}

async function setup(ctx: BenchContext, rounds: number, closer: Closer) {
  const sizes: SetupSizes = ctx.quick ? { sequential: 3, batches: 1, concurrency: QUICK_CONCURRENCY } : { sequential: 40, batches: 3, concurrency: CONCURRENCY }
  const source = await statusSource()
  const sides = { ours: await oursSide(source, closer, 'rlpx'), anchor: await rlpxSide(source, closer) }
  const res = await compare<Side, SetupSizes, SetupResult>(ctx, rounds, 'rlpx set-up', sides, measureSetup, sizes, { sequential: 2, batches: 0, concurrency: 0 })
  const rate = (rs: SetupResult[], k: 'seqRate' | 'concRate'): number => median(rs.map((r) => r[k]))
  const lat = (rs: SetupResult[]): number[] => rs.flatMap((r) => r.seqLatency)
  const note = `${sizes.sequential} seq + ${sizes.batches}×${sizes.concurrency} per round`
  return [
    row({ metric: 'set-up, sequential', unit: 'conn/s', better: 'higher', ours: rate(res.ours, 'seqRate'), anchor: rate(res.anchor, 'seqRate'), anchorName: ANCHOR, target: 5, note }),
    row({ metric: `set-up, ${sizes.concurrency} at once`, unit: 'conn/s', better: 'higher', ours: rate(res.ours, 'concRate'), anchor: rate(res.anchor, 'concRate'), anchorName: ANCHOR, target: 5 }),
    row({ metric: 'set-up latency p50, sequential', unit: 'ms', better: 'lower', ours: median(lat(res.ours)), anchor: median(lat(res.anchor)), anchorName: ANCHOR }),
  ]
}

async function roundTrips(ctx: BenchContext, rounds: number, closer: Closer) {
  const chain = ctx.quick ? CHAIN.quick : CHAIN.full
  const sizes: RoundTripSizes = ctx.quick ? { sequential: 10, parallel: 64, blocks: chain.blocks } : { sequential: 100, parallel: 320, blocks: chain.blocks }
  ctx.log('rlpx round trips: building the chain and starting clients')
  const sides = { ours: await session('p2p', chain, closer, {}, 'rlpx'), anchor: await session('rlpx', chain, closer) }
  const warm: RoundTripSizes = { sequential: 5, parallel: 32, blocks: chain.blocks }
  const res = await compare(ctx, rounds, 'rlpx round trips', sides, measureRoundTrips, sizes, warm)
  const m = (rs: RoundTrips[], k: 'seqRate' | 'parRate'): number => median(rs.map((r) => r[k]))
  const lat = (rs: RoundTrips[]): number[] => rs.flatMap((r) => r.seqLatency)
  return [
    row({ metric: 'GetBlockHeaders(192), 1 in flight', unit: 'req/s', better: 'higher', ours: m(res.ours, 'seqRate'), anchor: m(res.anchor, 'seqRate'), anchorName: ANCHOR, note: `${sizes.sequential} requests per round` }),
    row({ metric: 'GetBlockHeaders(192), 32 in flight', unit: 'req/s', better: 'higher', ours: m(res.ours, 'parRate'), anchor: m(res.anchor, 'parRate'), anchorName: ANCHOR, note: `${sizes.parallel} requests per round` }),
    row({ metric: 'round-trip latency p99, 1 in flight', unit: 'ms', better: 'lower', ours: p99(lat(res.ours)), anchor: p99(lat(res.anchor)), anchorName: ANCHOR }),
  ]
}

async function bulk(ctx: BenchContext, rounds: number, closer: Closer) {
  const sizes: BulkSizes = ctx.quick ? { totalBytes: 16 * MiB, capMs: 1_500 } : { totalBytes: 256 * MiB, capMs: 20_000 }
  const payload = noise(MESSAGE_BYTES, 11)
  const sides = { ours: await oursSession(payload, closer, undefined, 'rlpx'), anchor: await rlpxSession(payload, closer) }
  const res = await compare(ctx, rounds, 'rlpx bulk', sides, (send, z: BulkSizes) => send(z), sizes, { totalBytes: 4 * MiB, capMs: 1_000 })
  const mib = (ts: Transfer[]): string => `${Math.round(median(ts.map((t) => t.bytes)) / MiB)} MiB`
  return [
    row({ metric: '1 MiB eth messages', unit: 'MB/s', better: 'higher', ours: median(res.ours.map(rate)), anchor: median(res.anchor.map(rate)), anchorName: `${ANCHOR} ETH`, target: 10, note: `ours ${mib(res.ours)}, devp2p ${mib(res.anchor)} per round` }),
  ]
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 3, 2)
  const closer = new Closer()
  try {
    const rows = [...(await setup(ctx, rounds, closer)), ...(await roundTrips(ctx, rounds, closer)), ...(await bulk(ctx, rounds, closer))]
    return {
      bench: 'rlpx',
      rounds,
      headline: 0,
      rows,
      notes: [
        'ours: src/p2p talking RLPx (RlpxMuxer over our ECIES channel, eth as a capability stream framed by StreamSender); anchor: @ethereumjs/devp2p RLPx',
        'set-up: TCP + ECIES + Hello + eth/68 + Status both ways validated (the stack vs devp2p RLPx instances); round trips: EthereumClient P2PServer↔P2PServer over RLPx vs RlpxServer↔RlpxServer',
        'bulk: incompressible 1 MiB messages, snappy-compressed both sides, receiver RLP-decodes each; MB = 10^6 bytes; medians over rounds; all endpoints in this one process',
      ],
    }
  } finally {
    await closer.run()
  }
}

export const rlpx: Bench = {
  name: 'rlpx',
  description: 'the stack talking RLPx vs devp2p RLPx: set-up conn/s, GetBlockHeaders round trips, 1 MiB eth messages MB/s',
  run,
}
