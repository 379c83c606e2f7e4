/**
 * reqresp: GetBlockHeaders of 192 headers, round trips per second, with 1
 * and 32 requests in flight, P2P vs legacy RLPx, through the client as it
 * runs: `peer.eth.getBlockHeaders` on the requesting client, the
 * FullEthereumService answering from its Chain on the serving client. Both
 * serving clients hold the same deterministic VM-built chain.
 */
import type { ConfigOptions } from '../src/client/config'
import type { Peer } from '../src/client/net/peer/peer'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { filledChain } from './lib/chain'
import { type Path, connectClients, startClient } from './lib/client'
import { Closer } from './lib/net'
import { row } from './lib/report'
import { alternate, pool, withTimeout } from './lib/rounds'
import { median, now, p99, perSec } from './lib/stats'

const HEADERS = 192
/**
 * The serving chain: more blocks than one request's worth, so requests start
 * at varying heights. One transaction per block in a full run; none in quick
 * mode, where building the chain (VM execution) would dominate the run.
 * Headers are the same size either way.
 */
export const CHAIN = { full: { blocks: 256, txsPerBlock: 1 }, quick: { blocks: 200, txsPerBlock: 0 } }
const IN_FLIGHT = 32
const PART_TIMEOUT_MS = 300_000

export interface Sizes {
  sequential: number
  parallel: number
  blocks: number
}

export interface RoundResult {
  seqRate: number
  seqLatency: number[]
  parRate: number
  parLatency: number[]
}

async function request(peer: Peer, i: number, latencies: number[], blocks: number): Promise<void> {
  const eth = peer.eth
  if (eth === undefined) throw new Error('peer has no eth session')
  const from = BigInt(i % (blocks - HEADERS + 2))
  const t0 = now()
  const headers = await eth.getBlockHeaders({ block: from, max: HEADERS })
  latencies.push(now() - t0)
  if (headers.length !== HEADERS) throw new Error(`expected ${HEADERS} headers, got ${headers.length}`)
}

export async function measure(peer: Peer, sizes: Sizes): Promise<RoundResult> {
  const seqLatency: number[] = []
  let t0 = now()
  await withTimeout(pool(sizes.sequential, 1, (i) => request(peer, i, seqLatency, sizes.blocks)), PART_TIMEOUT_MS, 'sequential requests')
  const seqRate = perSec(sizes.sequential, now() - t0)
  const parLatency: number[] = []
  t0 = now()
  await withTimeout(pool(sizes.parallel, IN_FLIGHT, (i) => request(peer, i, parLatency, sizes.blocks)), PART_TIMEOUT_MS, 'parallel requests')
  const parRate = perSec(sizes.parallel, now() - t0)
  return { seqRate, seqLatency, parRate, parLatency }
}

/**
 * A serving client and a requesting one, connected; `opts` go to both
 * configs (the metrics bench turns metrics on); `carrier: 'rlpx'` makes two
 * P2P clients talk RLPx (the rlpx bench).
 */
export async function session(
  path: Path,
  chain: { blocks: number; txsPerBlock: number },
  closer: Closer,
  opts: ConfigOptions = {},
  carrier: 'mplex' | 'rlpx' = 'mplex',
): Promise<Peer> {
  const server = await startClient(path, { chain: await filledChain(chain.blocks, chain.txsPerBlock), maxPeers: 4, ...opts })
  closer.add(() => server.stop())
  const { dialer, peer } = await connectClients(path, server, { maxPeers: 4, ...opts }, carrier)
  closer.add(() => dialer.stop())
  return peer
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 3, 2)
  const chain = ctx.quick ? CHAIN.quick : CHAIN.full
  const sizes: Sizes = ctx.quick
    ? { sequential: 10, parallel: 64, blocks: chain.blocks }
    : { sequential: 100, parallel: 320, blocks: chain.blocks }
  const closer = new Closer()
  try {
    ctx.log('reqresp: building the chain and starting clients')
    const p2p = await session('p2p', chain, closer)
    const rlpx = await session('rlpx', chain, closer)
    const warm: Sizes = { sequential: 5, parallel: 32, blocks: chain.blocks }
    const res = await alternate<RoundResult>({
      rounds,
      label: 'reqresp',
      log: ctx.log,
      warmup: { ours: () => measure(p2p, warm), anchor: () => measure(rlpx, warm) },
      ours: () => measure(p2p, sizes),
      anchor: () => measure(rlpx, sizes),
    })
    const anchorName = 'devp2p RLPx'
    const m = (rs: RoundResult[], k: 'seqRate' | 'parRate') => median(rs.map((r) => r[k]))
    const lat = (rs: RoundResult[], k: 'seqLatency' | 'parLatency') => rs.flatMap((r) => r[k])
    return {
      bench: 'reqresp',
      rounds,
      headline: 0,
      rows: [
        row({ metric: '1 in flight', unit: 'req/s', better: 'higher', ours: m(res.ours, 'seqRate'), anchor: m(res.anchor, 'seqRate'), anchorName, target: 2, note: `${sizes.sequential} requests per round` }),
        row({ metric: `${IN_FLIGHT} in flight`, unit: 'req/s', better: 'higher', ours: m(res.ours, 'parRate'), anchor: m(res.anchor, 'parRate'), anchorName, target: 2, note: `${sizes.parallel} requests per round` }),
        row({ metric: 'latency p50, 1 in flight', unit: 'ms', better: 'lower', ours: median(lat(res.ours, 'seqLatency')), anchor: median(lat(res.anchor, 'seqLatency')), anchorName }),
        row({ metric: 'latency p99, 1 in flight', unit: 'ms', better: 'lower', ours: p99(lat(res.ours, 'seqLatency')), anchor: p99(lat(res.anchor, 'seqLatency')), anchorName }),
        row({ metric: `latency p99, ${IN_FLIGHT} in flight`, unit: 'ms', better: 'lower', ours: p99(lat(res.ours, 'parLatency')), anchor: p99(lat(res.anchor, 'parLatency')), anchorName }),
      ],
      notes: [
        `GetBlockHeaders of ${HEADERS} headers through EthereumClient (useP2PServer true vs false), served by FullEthereumService from a ${chain.blocks}-block chain (${chain.txsPerBlock} tx/block)`,
        'rates are medians over rounds; latencies pooled over rounds',
      ],
    }
  } finally {
    await closer.run()
  }
}

export const reqresp: Bench = {
  name: 'reqresp',
  description: 'GetBlockHeaders(192) round trips/s, 1 and 32 in flight, P2P vs RLPx through the client',
  run,
}
