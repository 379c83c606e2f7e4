/**
 * network: N whole clients in this one process on loopback, all bootstrapping
 * discovery (discv4, DPT) from one bootnode: seconds from starting the N−1
 * nodes until every node (bootnode included) has min(maxPeers, N−1) peers in
 * its pool. P2P (useP2PServer true) vs legacy RLPx (false), same options.
 *
 * A run can stall short of the mesh (nodes stop dialing): when no pool
 * changes for STALL_MS, or at the time limit, it ends and counts as the time
 * limit, with how many nodes were complete. A second row per size, the peer
 * fill (mean over nodes of peers ÷ wanted peers when the run ended), compares
 * the paths even when both stall.
 */
import { DEFAULT_MAX_PEERS } from '../src/client/config'
import { EthereumClient } from '../src/client/client'
import { Event } from '../src/client/types'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { benchConfig } from './lib/chain'
import { CLIENT_WAIT_MS, type Path } from './lib/client'
import { row } from './lib/report'
import { alternate, withTimeout } from './lib/rounds'
import { median, now } from './lib/stats'

/**
 * Discovery refresh for every node of both paths. The client default (60 s,
 * devp2p's) would make the mesh wait for refresh ticks rather than measure the
 * networking paths; 5 s keeps both paths' runs short and equally treated.
 */
const DISCOVERY_REFRESH_MS = 5_000
/** No pool change for this long (six refresh periods, ten dial back-offs) means the mesh has stalled. */
const STALL_MS = 30_000
/**
 * Peer fill timed as well as the full mesh. Greedy dialing (both paths, as
 * in geth) can strand the last few nodes: at 50 nodes and 25 peers each the
 * few short nodes often end up linked to each other with every other node
 * full, and no dial can complete the 25-regular graph. The time to 95 % fill
 * still compares how fast the two paths build the mesh.
 */
const FILL_MARK = 0.95

interface Sizes {
  nodes: number[]
  limitMs: number
}

interface MeshResult {
  /** NaN when the mesh was not reached (stalled or time limit). */
  seconds: number
  complete: number
  nodes: number
  /** Mean over nodes of min(1, peers ÷ wanted) when the run ended. */
  fill: number
  /** Seconds until that mean first reached FILL_MARK; NaN if it never did. */
  fillSeconds: number
}

async function mesh(path: Path, n: number, limitMs: number): Promise<MeshResult> {
  const maxPeers = DEFAULT_MAX_PEERS
  const want = Math.min(maxPeers, n - 1)
  const opts = { useP2PServer: path === 'p2p', discV4: true, maxPeers, discoveryRefreshMs: DISCOVERY_REFRESH_MS }
  const clients: EthereumClient[] = []
  try {
    const bootConfig = benchConfig(opts)
    const boot = await EthereumClient.create({ config: bootConfig })
    clients.push(boot)
    const listening = bootConfig.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: CLIENT_WAIT_MS })
    await boot.start()
    const [{ url }] = await listening
    for (let i = 1; i < n; i++) clients.push(await EthereumClient.create({ config: benchConfig({ ...opts, bootnodes: [url] }) }))
    await Promise.all(clients.slice(1).map((c) => c.open()))

    const completeCount = (): number => clients.filter((c) => c.service.pool.size >= want).length
    const fill = (): number => clients.reduce((sum, c) => sum + Math.min(1, c.service.pool.size / want), 0) / n
    let onChange: () => void = () => {}
    let stallTimer: ReturnType<typeof setTimeout> | undefined
    const done = new Promise<boolean>((resolve) => {
      onChange = () => {
        clearTimeout(stallTimer)
        if (completeCount() === n) resolve(true)
        else stallTimer = setTimeout(() => resolve(false), STALL_MS)
      }
    })
    for (const c of clients) {
      c.config.events.on(Event.POOL_PEER_ADDED, onChange)
      c.config.events.on(Event.POOL_PEER_REMOVED, onChange)
    }
    let fillSeconds = Number.NaN
    const t0 = now()
    const markFill = (): void => {
      if (Number.isNaN(fillSeconds) && fill() >= FILL_MARK) fillSeconds = (now() - t0) / 1000
    }
    for (const c of clients) c.config.events.on(Event.POOL_PEER_ADDED, markFill)
    await Promise.all(clients.slice(1).map((c) => c.start()))
    onChange()
    try {
      const reached = await withTimeout(done, limitMs, `${path} mesh of ${n}`).catch(() => false)
      return { seconds: reached ? (now() - t0) / 1000 : Number.NaN, complete: completeCount(), nodes: n, fill: fill(), fillSeconds }
    } finally {
      clearTimeout(stallTimer)
      for (const c of clients) {
        c.config.events.off(Event.POOL_PEER_ADDED, markFill)
        c.config.events.off(Event.POOL_PEER_ADDED, onChange)
        c.config.events.off(Event.POOL_PEER_REMOVED, onChange)
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.stop()))
  }
}

async function measure(path: Path, sizes: Sizes, log: (s: string) => void): Promise<MeshResult[]> {
  const out: MeshResult[] = []
  for (const n of sizes.nodes) {
    const r = await mesh(path, n, sizes.limitMs)
    const how = Number.isFinite(r.seconds) ? `${r.seconds.toFixed(1)} s` : `not reached (${r.complete}/${n} complete)`
    log(`network: ${path} ${n} nodes: ${how}, peer fill ${(r.fill * 100).toFixed(0)} %`)
    out.push(r)
  }
  return out
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 2, 1)
  const sizes: Sizes = ctx.quick ? { nodes: [5], limitMs: 30_000 } : { nodes: [10, 25, 50], limitMs: 150_000 }
  const res = await alternate<MeshResult[]>({
    rounds,
    label: 'network',
    log: ctx.log,
    ours: () => measure('p2p', sizes, ctx.log),
    anchor: () => measure('rlpx', sizes, ctx.log),
  })
  const anchorName = 'devp2p RLPx'
  const at = (rs: MeshResult[][], i: number): MeshResult[] => rs.map((r) => r[i]!)
  // A run that missed the limit counts as the limit: the median stays finite and honest about it.
  const orLimit = (s: number): number => (Number.isFinite(s) ? s : sizes.limitMs / 1000)
  const secs = (ms: MeshResult[]): number => median(ms.map((m) => orLimit(m.seconds)))
  const misses = (ms: MeshResult[]): string => {
    const missed = ms.filter((m) => !Number.isFinite(m.seconds))
    return missed.length === 0 ? '' : ` ${missed.length} run(s) unreached (${missed.map((m) => `${m.complete}/${m.nodes}`).join(', ')} nodes complete)`
  }
  const rows = sizes.nodes.flatMap((n, i) => {
    const o = at(res.ours, i)
    const a = at(res.anchor, i)
    const missNote = [misses(o) && `P2P:${misses(o)}`, misses(a) && `RLPx:${misses(a)}`].filter(Boolean).join(';')
    const time = row({
      metric: `${n} nodes, full mesh`,
      unit: 's',
      better: 'lower',
      ours: secs(o),
      anchor: secs(a),
      anchorName,
      target: i === sizes.nodes.length - 1 ? 1 : undefined,
      note: `until each has ${Math.min(DEFAULT_MAX_PEERS, n - 1)} peers${missNote ? `;${missNote}` : ''}`,
    })
    // Both sides stuck at the limit: the times say nothing about which is faster.
    if (o.every((m) => !Number.isFinite(m.seconds)) && a.every((m) => !Number.isFinite(m.seconds))) time.ratio = Number.NaN
    const fill = row({
      metric: `${n} nodes, peer fill`,
      unit: '%',
      better: 'higher',
      ours: 100 * median(o.map((m) => m.fill)),
      anchor: 100 * median(a.map((m) => m.fill)),
      anchorName,
      note: 'mean of peers ÷ wanted when the run ended',
    })
    const fillTime = row({
      metric: `${n} nodes, ${FILL_MARK * 100} % peer fill`,
      unit: 's',
      better: 'lower',
      ours: median(o.map((m) => orLimit(m.fillSeconds))),
      anchor: median(a.map((m) => orLimit(m.fillSeconds))),
      anchorName,
      note: `until the mean of peers ÷ wanted first reaches ${FILL_MARK * 100} % (a run that never does counts as ${sizes.limitMs / 1000} s)`,
    })
    return [time, fill, fillTime]
  })
  return {
    bench: 'network',
    rounds,
    headline: rows.length - 3,
    rows,
    notes: [
      `EthereumClients in one process, discv4 from one bootnode, maxPeers ${DEFAULT_MAX_PEERS}, discovery refresh ${DISCOVERY_REFRESH_MS / 1000} s for both paths; medians over rounds`,
      `a run ends unreached after ${STALL_MS / 1000} s without any pool change or at ${sizes.limitMs / 1000} s, and then counts as ${sizes.limitMs / 1000} s`,
    ],
  }
}

export const network: Bench = {
  name: 'network',
  description: '10, 25, 50 clients on loopback through one bootnode: seconds to full mesh, P2P vs RLPx',
  run,
}
