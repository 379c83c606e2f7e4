import { DEFAULT_ETH_VERSIONS, DEFAULT_MAX_PEERS } from '../../config'
import { ETH_VERSIONS, isEthVersion } from '../../net/protocol/ethmessages'

import { ArgsError } from './errors'

/** Three nodes: a bootnode plus two that must find it and, through discovery, each other. */
export const DEFAULT_NODES = 3
/** Most nodes one run starts: every node is a full client in this process (sockets, timers, chain). */
export const MAX_NODES = 32
/** TCP ports 30450.. stay clear of a real node on 30303 running on the same machine. */
export const DEFAULT_BASE_PORT = 30450
/** UDP discovery ports 30350.., likewise clear of 30303. */
export const DEFAULT_DISC_BASE_PORT = 30350
/** Blocks on the bootnode: several request batches' worth, still built in a few seconds. */
export const DEFAULT_BLOCKS = 64
/** Most blocks: the builder executes every transaction, and the chain is held in memory. */
export const MAX_BLOCKS = 4096
/** Transactions per block; the test-chain builder's own default (mixed kinds, real receipts). */
export const DEFAULT_TXS_PER_BLOCK = 4
/** Same bound as the test-chain builder (every transaction fits the genesis gas limit). */
export const MAX_TXS_PER_BLOCK = 400
/** Headers (and bodies, receipts) the nodes' synchronizers ask for per request: 64 blocks take four of each kind. */
export const DEFAULT_BATCH = 16
/** Seconds between node 1's produced blocks: the network follows a living chain. */
export const DEFAULT_DEV_PERIOD_S = 2
/** The eth protocol's own per-request cap (GetBlockHeaders / GetBlockBodies). */
export const MAX_BATCH = 1024
/** Every wait of the script (listening, peers, sync, mesh, shutdown) gives up after this. */
export const DEFAULT_TIMEOUT_S = 60
/** Status line period in monitoring mode. */
export const DEFAULT_INTERVAL_S = 5
/**
 * Discovery table refresh period. devp2p asks each known node for neighbours
 * once per period (spread over ten sub-ticks); with its 60 s default the
 * non-boot nodes of a fresh network find each other anywhere within a
 * minute. 5 s makes the mesh form within seconds at negligible UDP cost.
 */
export const DEFAULT_DISCOVERY_REFRESH_S = 5

export interface NetworkOptions {
  nodes: number
  /** First TCP port; node i listens on basePort + i. 0: every node picks a free port. */
  basePort: number
  /** First UDP discovery port; 0: every node picks a free port. */
  discBasePort: number
  blocks: number
  txsPerBlock: number
  /** Headers, bodies and receipts per sync request (Config syncHeaderBatch, syncBodyBatch, syncReceiptBatch). */
  batch: number
  /** Node 1 produces a block every this many ms; 0: it produces none. */
  devPeriodMs: number
  maxPeers: number
  /** true: the legacy RLPx path (useP2PServer false), for comparison. */
  rlpx: boolean
  /** true: node2 runs RlpxServer (the legacy path), the others P2PServer: a mixed network. */
  mixed: boolean
  /** A missing full mesh fails the run instead of being reported as a warning. */
  requireMesh: boolean
  timeoutMs: number
  intervalMs: number
  /** Config.discoveryRefreshMs of every node. */
  discoveryRefreshMs: number
  /** Monitoring length; undefined: until SIGINT/SIGTERM; 0: no monitoring. */
  durationMs: number | undefined
  /** Config.ethVersions of every node (highest first): what each offers. */
  ethVersions: number[]
  /** Every node serves Prometheus metrics on a free port; the URLs are printed. */
  metrics: boolean
}

export type ParsedArgs = { kind: 'help' } | { kind: 'run'; options: NetworkOptions }

export const DEFAULT_OPTIONS: Readonly<NetworkOptions> = {
  nodes: DEFAULT_NODES,
  basePort: DEFAULT_BASE_PORT,
  discBasePort: DEFAULT_DISC_BASE_PORT,
  blocks: DEFAULT_BLOCKS,
  txsPerBlock: DEFAULT_TXS_PER_BLOCK,
  batch: DEFAULT_BATCH,
  devPeriodMs: DEFAULT_DEV_PERIOD_S * 1000,
  maxPeers: DEFAULT_MAX_PEERS,
  rlpx: false,
  mixed: false,
  requireMesh: false,
  timeoutMs: DEFAULT_TIMEOUT_S * 1000,
  intervalMs: DEFAULT_INTERVAL_S * 1000,
  discoveryRefreshMs: DEFAULT_DISCOVERY_REFRESH_S * 1000,
  durationMs: undefined,
  ethVersions: [...DEFAULT_ETH_VERSIONS],
  metrics: false,
}

export const USAGE = `Usage: bun run src/client/bin/test-network-p2p.ts [options]

Starts a local Ethereum network on 127.0.0.1: node 1 (the bootnode) holds a chain and
produces a block every --dev-period seconds; the other nodes discover it and sync by
themselves (headers, bodies, receipts, verified and executed) and follow each new block;
a transaction sent into the last node's pool travels to node 1, goes into a block, and
that block reaches every node. Then it prints statistics and monitors until stopped.

Options:
  --nodes N               nodes to start, 2..${MAX_NODES} (default ${DEFAULT_NODES})
  --base-port P           TCP port of node 1; node i uses P+i-1; 0 = free ports (default ${DEFAULT_BASE_PORT})
  --disc-base-port P      UDP discovery port of node 1, likewise (default ${DEFAULT_DISC_BASE_PORT})
  --blocks B              blocks on the bootnode, 1..${MAX_BLOCKS} (default ${DEFAULT_BLOCKS})
  --txs-per-block T       transactions per block, 0..${MAX_TXS_PER_BLOCK} (default ${DEFAULT_TXS_PER_BLOCK})
  --batch K               headers/bodies/receipts per sync request, 1..${MAX_BATCH} (default ${DEFAULT_BATCH})
  --dev-period S          node 1 produces a block every S seconds; 0 = none (default ${DEFAULT_DEV_PERIOD_S})
  --max-peers M           peer slots per node (default ${DEFAULT_MAX_PEERS})
  --rlpx                  use the legacy devp2p RLPx path instead of the P2P stack
  --mixed                 node2 runs the legacy RlpxServer, the others P2PServer (which
                          talks RLPx with it): a mixed network, every check still applies
  --eth V[,V...]          eth versions every node offers, of ${ETH_VERSIONS.join(', ')}
                          (default ${DEFAULT_ETH_VERSIONS.join(',')}; --eth 68 runs the network at eth/68)
  --require-mesh          fail (not just warn) if the nodes do not form a full mesh
  --metrics               every node serves Prometheus metrics (free ports); prints their URLs
  --timeout S             limit of every wait, in seconds (default ${DEFAULT_TIMEOUT_S})
  --interval S            seconds between monitoring status lines (default ${DEFAULT_INTERVAL_S})
  --discovery-refresh S   discovery refresh period, seconds (default ${DEFAULT_DISCOVERY_REFRESH_S})
  --duration S            monitor for S seconds, then stop; 0 = no monitoring
                          (default: monitor until SIGINT/SIGTERM)
  -h, --help              print this help

Exit code: 0 if every check passed, 1 if a check failed, 2 on a usage error,
130 when a second signal forced the exit.
DEBUG=client:*,p2p:* adds the layers' own debug output.`

type Setter = (opts: NetworkOptions, value: string | undefined, flag: string) => void

const intIn = (min: number, max: number) => (value: string | undefined, flag: string): number => {
  const text = requireValue(value, flag)
  if (!/^\d+$/.test(text)) throw new ArgsError(`${flag} expects an integer, got "${text}"`)
  const n = Number(text)
  if (n < min || n > max) throw new ArgsError(`${flag} must be in ${min}..${max}, got ${n}`)
  return n
}

const seconds = (allowZero: boolean) => (value: string | undefined, flag: string): number => {
  const text = requireValue(value, flag)
  if (!/^\d+(\.\d+)?$/.test(text)) throw new ArgsError(`${flag} expects a number of seconds, got "${text}"`)
  const ms = Math.round(Number(text) * 1000)
  if (ms === 0 && !allowZero) throw new ArgsError(`${flag} must be more than 0`)
  if (ms > 2 ** 31 - 1) throw new ArgsError(`${flag} is too large (timers hold at most ${(2 ** 31 - 1) / 1000} s)`)
  return ms
}

const flagOnly = (value: string | undefined, flag: string): void => {
  if (value !== undefined) throw new ArgsError(`${flag} takes no value`)
}

const port = intIn(0, 65535)

const ethVersions = (value: string | undefined, flag: string): number[] => {
  const parts = requireValue(value, flag).split(',')
  const out: number[] = []
  for (const part of parts) {
    if (!/^\d+$/.test(part)) throw new ArgsError(`${flag} expects eth versions like 70,69,68, got "${value}"`)
    const v = Number(part)
    if (!isEthVersion(v)) throw new ArgsError(`${flag}: eth/${v} is not supported (${ETH_VERSIONS.join(', ')})`)
    if (out.includes(v)) throw new ArgsError(`${flag}: eth/${v} listed twice`)
    out.push(v)
  }
  return out.sort((a, b) => b - a)
}

const SETTERS: Record<string, Setter> = {
  '--nodes': (o, v, f) => (o.nodes = intIn(2, MAX_NODES)(v, f)),
  '--base-port': (o, v, f) => (o.basePort = port(v, f)),
  '--disc-base-port': (o, v, f) => (o.discBasePort = port(v, f)),
  '--blocks': (o, v, f) => (o.blocks = intIn(1, MAX_BLOCKS)(v, f)),
  '--txs-per-block': (o, v, f) => (o.txsPerBlock = intIn(0, MAX_TXS_PER_BLOCK)(v, f)),
  '--batch': (o, v, f) => (o.batch = intIn(1, MAX_BATCH)(v, f)),
  '--dev-period': (o, v, f) => (o.devPeriodMs = seconds(true)(v, f)),
  '--max-peers': (o, v, f) => (o.maxPeers = intIn(1, 1000)(v, f)),
  '--rlpx': (o, v, f) => (flagOnly(v, f), (o.rlpx = true)),
  '--mixed': (o, v, f) => (flagOnly(v, f), (o.mixed = true)),
  '--eth': (o, v, f) => (o.ethVersions = ethVersions(v, f)),
  '--require-mesh': (o, v, f) => (flagOnly(v, f), (o.requireMesh = true)),
  '--metrics': (o, v, f) => (flagOnly(v, f), (o.metrics = true)),
  '--timeout': (o, v, f) => (o.timeoutMs = seconds(false)(v, f)),
  '--interval': (o, v, f) => (o.intervalMs = seconds(false)(v, f)),
  '--duration': (o, v, f) => (o.durationMs = seconds(true)(v, f)),
  '--discovery-refresh': (o, v, f) => {
    o.discoveryRefreshMs = seconds(false)(v, f)
    // devp2p divides the period by ten for its timer; Config refuses less than 10 ms.
    if (o.discoveryRefreshMs < 10) throw new ArgsError(`${f} must be at least 0.01`)
  },
}

/** Flags that never take a value, so `--rlpx --nodes 4` does not read "--nodes" as a value. */
const BOOLEAN_FLAGS = new Set(['--rlpx', '--mixed', '--require-mesh', '--metrics'])

/**
 * Parses the command line (without the runtime and script path). Accepts
 * `--flag value` and `--flag=value`; throws ArgsError naming the problem.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: NetworkOptions = { ...DEFAULT_OPTIONS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-h' || arg === '--help') return { kind: 'help' }
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const setter = SETTERS[flag]
    if (setter === undefined) throw new ArgsError(`unknown argument "${arg}" (see --help)`)
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else if (!BOOLEAN_FLAGS.has(flag) && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) value = argv[++i]
    setter(options, value, flag)
  }
  if (options.rlpx && options.mixed) throw new ArgsError('--rlpx and --mixed exclude each other (--mixed already runs node2 on RLPx)')
  checkPortRange('--base-port', options.basePort, options.nodes)
  checkPortRange('--disc-base-port', options.discBasePort, options.nodes)
  return { kind: 'run', options }
}

function requireValue(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new ArgsError(`${flag} needs a value`)
  return value
}

function checkPortRange(flag: string, base: number, nodes: number): void {
  if (base !== 0 && base + nodes - 1 > 65535) {
    throw new ArgsError(`${flag} ${base} leaves no room for ${nodes} nodes (last port ${base + nodes - 1} > 65535)`)
  }
}

/** Node index (0-based) of the one RlpxServer node of a --mixed network: node2. */
export const MIXED_RLPX_NODE = 1

/** Whether node `index` runs P2PServer (`useP2PServer`): all but none (--rlpx), all but node2 (--mixed), or all. */
export function usesP2PServer(options: Pick<NetworkOptions, 'rlpx' | 'mixed'>, index: number): boolean {
  if (options.rlpx) return false
  return !(options.mixed && index === MIXED_RLPX_NODE)
}

/** Port of node `index` (0-based): consecutive from the base, or 0 (a free port) everywhere. */
export function nodePort(base: number, index: number): number {
  return base === 0 ? 0 : base + index
}
