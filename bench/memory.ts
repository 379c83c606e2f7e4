/**
 * memory: heap and RSS per established idle peer on a node, P2P vs RLPx.
 *
 * The node under measure is an EthereumClient in a child process of its own
 * (memory-hub.ts): useP2PServer true vs false. This process dials it from
 * many identities, each session complete (P2P: ECIES + mplex + /eth/68 stream
 * + Status; RLPx: ECIES + Hello + ETH Status), and then leaves them idle.
 * Per peer = (memory with warm-up + N peers − memory with the warm-up peers) / N,
 * each measured after a settle time and full garbage collections, so one-time
 * costs (code, WASM, first-connection caches) cancel out.
 *
 * The warm-up has to be long enough for the JIT to settle, JavaScript and
 * WebAssembly alike. With 10 warm-up peers, V8's tier-up of the secp256k1
 * WASM module (several MB of optimized code, done after a few hundred calls)
 * fell inside the measured window and showed up as ~40 KiB of RSS "per peer".
 */
import { fileURLToPath } from 'node:url'

import { DISCONNECT_REASON, Peer as Devp2pPeer, ETH, pk2id } from '@ethereumjs/devp2p'
import { utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils } from '@noble/secp256k1'

import { parseEnode } from '../src/client/net/server/enode'
import { sendDisconnect, withClientEth } from '../src/client/net/server/rlpx/devp2p'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { type StatusSource, benchCommon, statusSource } from './lib/chain'
import { ChildScript } from './lib/child'
import { compiledScript } from './lib/compiled'
import { isBun } from './lib/env'
import type { Path } from './lib/client'
import { connectTcp, destroySocket } from './lib/net'
import { closeConnection, dialEth, stackNode } from './lib/p2p'
import { row } from './lib/report'
import { alternate, pool, withTimeout } from './lib/rounds'
import { rlpxStatus } from './lib/rlpx'
import { median } from './lib/stats'

const HUB_SCRIPT = fileURLToPath(new URL('./memory-hub.ts', import.meta.url))
/** Dials at once: fast, yet well under the listeners' pending-handshake limits. */
const DIAL_CONCURRENCY = 8
const CHILD_WAIT_MS = 180_000
const KiB = 1024

interface Sizes {
  warm: number
  peers: number
}

interface Sample {
  heapUsed: number
  external: number
  rss: number
}

type Close = () => Promise<void>

/** One complete P2P session to the hub, left idle. */
async function p2pPeer(hubPort: number, hubId: Uint8Array, source: StatusSource): Promise<Close> {
  const { conn } = await dialEth(stackNode(), hubPort, hubId, source)
  return () => closeConnection(conn)
}

/** One complete devp2p RLPx session (Hello, ETH Status) to the hub, left idle. */
async function rlpxPeer(hubPort: number, hubId: Uint8Array, source: StatusSource): Promise<Close> {
  const socket = await connectTcp(hubPort)
  const key = utils.randomSecretKey()
  const peer = new Devp2pPeer({
    socket,
    remoteId: hubId,
    privateKey: key,
    id: pk2id(getPublicKey(key, false)),
    timeout: 60_000,
    clientId: utf8ToBytes('ethp2p-bench'),
    capabilities: withClientEth([ETH.eth68]),
    common: benchCommon(),
    port: 0,
  })
  peer.events.on('error', () => {})
  const close: Close = async () => {
    sendDisconnect(peer, socket, DISCONNECT_REASON.CLIENT_QUITTING)
    await destroySocket(socket)
  }
  try {
    await new Promise<void>((resolve, reject) => {
      peer.events.once('connect', () => resolve())
      peer.events.once('close', () => reject(new Error('hub closed the RLPx session before Hello')))
    })
    await rlpxStatus(peer, source)
    return close
  } catch (err) {
    await close()
    throw err
  }
}

async function measureOnce(path: Path, sizes: Sizes, source: StatusSource, script: string): Promise<Sample> {
  const hub = new ChildScript(script, [path, String(sizes.warm + sizes.peers + 8)])
  const closes: Close[] = []
  try {
    const ready = await hub.next(CHILD_WAIT_MS, `${path} hub start`)
    const enode = parseEnode(String(ready.url))
    if (typeof enode === 'string') throw new Error(enode)
    const dial = path === 'p2p' ? p2pPeer : rlpxPeer
    const connect = async (n: number): Promise<void> => {
      await pool(n, DIAL_CONCURRENCY, async () => {
        closes.push(await withTimeout(dial(enode.tcpPort, enode.id, source), 30_000, `${path} dial`))
      })
      await hub.request(`wait ${closes.length}`, CHILD_WAIT_MS)
    }
    await connect(sizes.warm)
    const base = (await hub.request('measure', CHILD_WAIT_MS)) as unknown as Sample
    await connect(sizes.peers)
    const full = (await hub.request('measure', CHILD_WAIT_MS)) as unknown as Sample
    const per = (k: keyof Sample): number => (full[k] - base[k]) / sizes.peers
    return { heapUsed: per('heapUsed'), external: per('external'), rss: per('rss') }
  } finally {
    await Promise.all(closes.map((c) => c().catch(() => undefined)))
    await hub.stop()
  }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 3, 1)
  /** 60 warm-up sessions: a few hundred EC operations on the hub, past the JIT's tier-up (see above). */
  const sizes: Sizes = ctx.quick ? { warm: 4, peers: 20 } : { warm: 60, peers: 200 }
  const source = await statusSource()
  const script = await compiledScript(HUB_SCRIPT)
  const res = await alternate<Sample>({
    rounds,
    label: 'memory',
    log: ctx.log,
    ours: () => measureOnce('p2p', sizes, source, script),
    anchor: () => measureOnce('rlpx', sizes, source, script),
  })
  const anchorName = 'devp2p RLPx'
  const kib = (xs: Sample[], k: keyof Sample): number => median(xs.map((x) => x[k])) / KiB
  return {
    bench: 'memory',
    rounds,
    headline: 0,
    rows: [
      row({ metric: 'JS heap per idle peer', unit: 'KiB', better: 'lower', ours: kib(res.ours, 'heapUsed'), anchor: kib(res.anchor, 'heapUsed'), anchorName, target: 2, note: `${sizes.peers} peers after ${sizes.warm} warm-up` }),
      row({ metric: 'external per idle peer', unit: 'KiB', better: 'lower', ours: kib(res.ours, 'external'), anchor: kib(res.anchor, 'external'), anchorName, note: 'Buffers, WASM, native' }),
      row({ metric: 'RSS per idle peer', unit: 'KiB', better: 'lower', ours: kib(res.ours, 'rss'), anchor: kib(res.anchor, 'rss'), anchorName, target: 2 }),
    ],
    notes: [
      'the measured node is an EthereumClient in a child process (useP2PServer true vs false); peers dial it from this process',
      'target ≤ 0.5× legacy bytes per peer, i.e. ratio (legacy ÷ ours) ≥ 2×; medians over rounds, each round a fresh child per side',
      isBun()
        ? 'the hub runs bench/memory-hub.ts as Bun transpiles it'
        : "the hub runs an esbuild bundle of bench/memory-hub.ts (keepNames off), not tsx's loader, whose __name() wrapper adds ~256 B to every closure of our TypeScript and none to devp2p's shipped JavaScript (bench/lib/compiled.ts)",
    ],
  }
}

export const memory: Bench = {
  name: 'memory',
  description: 'heap and RSS per established idle peer on a node (child process), P2P vs RLPx',
  run,
}
