/**
 * sync: an empty EthereumClient syncs a chain of VM-executed blocks with transactions from
 * three serving clients by itself (its Synchronizer: skeleton, header fill, bodies and
 * receipts from every peer, each block executed on import), P2P (useP2PServer true) vs RLPx.
 * The servers run in a child process (bench/sync-servers.ts), as peers on other machines
 * would: the figures are the syncing node's own work. The anchor of each path is the import
 * ceiling: the same blocks, decoded from their bytes, put into a fresh Chain with no network
 * at all, in the synchronizer's import batches. A path at 1× the ceiling hides the network
 * entirely behind execution. The P2P sync also runs into a fresh dataDir (the chain on LevelDB,
 * one batch per block), against the same sync in memory.
 *
 * Second part: transaction propagation latency across a line of 5 clients (A–B–C–D–E, each
 * linked only to its neighbours): a transaction added to A's pool, until E's pool has it.
 */
import { type Block, createBlockFromBytesArray } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { testAccounts } from '../src/chain-config'
import { Chain } from '../src/client/blockchain/chain'
import { EthereumClient } from '../src/client/client'
import type { ConfigOptions } from '../src/client/config'
import { IMPORT_BATCH } from '../src/client/sync/round'
import { makeTestTx } from '../src/client/testing/transactions'
import { Event } from '../src/client/types'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { benchCommon, benchConfig, testChain } from './lib/chain'
import { ChildScript } from './lib/child'
import { CLIENT_WAIT_MS, type Path, startClient } from './lib/client'
import { Closer } from './lib/net'
import { row } from './lib/report'
import { alternate, withTimeout } from './lib/rounds'
import { mbPerSec, median, now, p99, perSec } from './lib/stats'

import type { TypedTransaction } from '@ethereumjs/tx'

/** Serving peers of every sync. */
const SERVERS = 3
/** Nodes of the propagation line. */
const LINE = 5
/** Bound on one sync or one transaction's trip; only a broken build reaches it. */
const PART_TIMEOUT_MS = 600_000
/** The serving child: builds the chain (VM execution), then starts its servers. */
const SERVERS_SCRIPT = fileURLToPath(new URL('./sync-servers.ts', import.meta.url))

interface Sizes {
  blocks: number
  txsPerBlock: number
  /** Transactions sent along the line, one after another. */
  txs: number
}

const SIZES: Record<'full' | 'quick', Sizes> = {
  full: { blocks: 1024, txsPerBlock: 4, txs: 100 },
  quick: { blocks: 128, txsPerBlock: 1, txs: 20 },
}

interface SyncResult {
  blocksPerSec: number
  /** Bytes the syncing node received (framing and encryption included), per second. */
  mbPerSec: number
  /** Servers that delivered part of the chain. */
  servedBy: number
}

interface Round {
  sync: SyncResult
  /** The same sync into a fresh dataDir (P2P rounds only). */
  onDisk?: SyncResult
  ceiling: number
  latencies: number[]
}

/** The chain's blocks as a peer sends them: decoded again from their bytes, with nothing cached. */
function fromBytes(blocks: readonly Block[]): Block[] {
  const common = benchCommon()
  return blocks.map((b) => createBlockFromBytesArray(RLP.decode(b.serialize()) as never, { common, setHardfork: true }))
}

/** The import ceiling: blocks/s of putBlocks into a fresh Chain, in import batches. */
async function ceiling(sizes: Sizes): Promise<number> {
  const src = await testChain(sizes.blocks, sizes.txsPerBlock)
  const chain = await Chain.create({ common: benchCommon() })
  try {
    const t0 = now()
    // As the synchronizer imports them: decoded from bytes a batch at a time, executed, the
    // receipts made by execution (none handed over).
    for (let i = 0; i < src.blocks.length; i += IMPORT_BATCH) await chain.putBlocks(fromBytes(src.blocks.slice(i, i + IMPORT_BATCH)))
    return perSec(src.blocks.length, now() - t0)
  } finally {
    await chain.close()
  }
}

/**
 * One sync of the whole chain by a fresh client from the path's servers; resolves when it
 * holds the head. `onDisk`: the client keeps its chain in a fresh dataDir.
 */
async function syncOnce(path: Path, servers: readonly string[], sizes: Sizes, onDisk = false): Promise<SyncResult> {
  const dataDir = onDisk ? mkdtempSync(join(tmpdir(), 'ethp2p-sync-')) : undefined
  const config = benchConfig({ useP2PServer: path === 'p2p', bootnodes: [...servers], sync: false, maxPeers: SERVERS + 1, dataDir })
  const client = await EthereumClient.create({ config })
  try {
    const peers = new Promise<void>((resolve) => {
      const check = (): void => {
        if (client.service.pool.size < SERVERS) return
        config.events.off(Event.POOL_PEER_ADDED, check)
        resolve()
      }
      config.events.on(Event.POOL_PEER_ADDED, check)
    })
    await client.start()
    await withTimeout(peers, CLIENT_WAIT_MS, `${path} sync client to reach its ${SERVERS} servers`)
    const bytesBefore = client.service.pool.peers.reduce((n, p) => n + (p.bytes?.bytesIn ?? 0), 0)
    const head = BigInt(sizes.blocks)
    const done = config.events.waitFor(Event.CHAIN_UPDATED, { timeoutMs: PART_TIMEOUT_MS, filter: (u) => u.height === head })
    const t0 = now()
    client.synchronizer.start()
    await done
    const ms = now() - t0
    const bytes = client.service.pool.peers.reduce((n, p) => n + (p.bytes?.bytesIn ?? 0), 0) - bytesBefore
    const servedBy = [...client.synchronizer.stats.values()].filter((s) => s.bodies > 0).length
    return { blocksPerSec: perSec(sizes.blocks, ms), mbPerSec: mbPerSec(bytes, ms), servedBy }
  } finally {
    await client.stop()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The line A–B–C–D–E: each node bootstraps from the one before it, with discovery off. */
async function startLine(path: Path, closer: Closer): Promise<EthereumClient[]> {
  const nodes: EthereumClient[] = []
  let previous: string | undefined
  for (let i = 0; i < LINE; i++) {
    const opts: ConfigOptions = { maxPeers: 4, bootnodes: previous === undefined ? [] : [previous] }
    const c = await startClient(path, opts)
    closer.add(() => c.stop())
    nodes.push(c.client)
    previous = c.url
  }
  const linked = (c: EthereumClient, i: number): boolean => c.service.pool.size === (i === 0 || i === LINE - 1 ? 1 : 2)
  await withTimeout(
    Promise.all(
      nodes.map(
        (c, i) =>
          new Promise<void>((resolve) => {
            const check = (): void => {
              if (!linked(c, i)) return
              c.config.events.off(Event.POOL_PEER_ADDED, check)
              resolve()
            }
            c.config.events.on(Event.POOL_PEER_ADDED, check)
            check()
          }),
      ),
    ),
    CLIENT_WAIT_MS,
    `${path} line of ${LINE} to link up`,
  )
  return nodes
}

/** Transaction `i` of a run: senders round-robin, each sender's nonces in order from 0 (the line holds only genesis). */
function lineTx(i: number, salt: number): TypedTransaction {
  const from = testAccounts[i % testAccounts.length]!
  return makeTestTx(benchCommon(), { kind: '1559-transfer', from, nonce: BigInt(Math.floor(i / testAccounts.length)), seed: `line-${salt}`, index: i })
}

/** Milliseconds from adding each transaction at A until E's pool holds it, one transaction at a time. */
async function propagation(path: Path, count: number, salt: number): Promise<number[]> {
  const closer = new Closer()
  try {
    const line = await startLine(path, closer)
    const [first, last] = [line[0]!, line[LINE - 1]!]
    const out: number[] = []
    for (let i = 0; i < count; i++) {
      const tx = lineTx(i, salt)
      const arrived = new Promise<void>((resolve) => {
        const onAdded = (t: TypedTransaction): void => {
          if (Buffer.compare(t.hash(), tx.hash()) !== 0) return
          last.service.txPool.off('added', onAdded)
          resolve()
        }
        last.service.txPool.on('added', onAdded)
      })
      const t0 = now()
      await first.service.txPool.add(tx)
      await withTimeout(arrived, PART_TIMEOUT_MS, `${path} transaction ${i} to cross the line`)
      out.push(now() - t0)
    }
    return out
  } finally {
    await closer.run()
  }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 2, 1)
  const sizes = ctx.quick ? SIZES.quick : SIZES.full
  const closer = new Closer()
  try {
    ctx.log(`sync: building ${sizes.blocks} blocks (${sizes.txsPerBlock} tx each) here and in the serving child, which starts ${SERVERS} servers per path`)
    const child = new ChildScript(SERVERS_SCRIPT, [String(sizes.blocks), String(sizes.txsPerBlock), String(SERVERS)])
    closer.add(() => child.stop())
    // Built here too, for the ceiling: the same seed gives the same blocks.
    await testChain(sizes.blocks, sizes.txsPerBlock)
    const servers = (await child.next(PART_TIMEOUT_MS, 'the serving child to start')) as unknown as Record<Path, string[]>
    const side = (path: Path) => async (r: number): Promise<Round> => ({
      sync: await withTimeout(syncOnce(path, servers[path], sizes), PART_TIMEOUT_MS, `${path} sync`),
      onDisk: path === 'p2p' ? await withTimeout(syncOnce(path, servers[path], sizes, true), PART_TIMEOUT_MS, `${path} sync into a dataDir`) : undefined,
      ceiling: await ceiling(sizes),
      latencies: await propagation(path, sizes.txs, r),
    })
    const warm = async (path: Path): Promise<void> => void (await withTimeout(syncOnce(path, servers[path], sizes), PART_TIMEOUT_MS, `${path} warm-up sync`))
    const res = await alternate<Round>({ rounds, label: 'sync', log: ctx.log, warmup: { ours: () => warm('p2p'), anchor: () => warm('rlpx') }, ours: side('p2p'), anchor: side('rlpx') })
    return report(res.ours, res.anchor, sizes, rounds)
  } finally {
    await closer.run()
  }
}

function report(p2p: Round[], rlpx: Round[], sizes: Sizes, rounds: number) {
  const m = (rs: Round[], f: (r: Round) => number): number => median(rs.map(f))
  // The best import of all rounds: a ceiling is what the machine can do, not what it did on average.
  const ceil = Math.max(...[...p2p, ...rlpx].map((r) => r.ceiling))
  const lat = (rs: Round[]): number[] => rs.flatMap((r) => r.latencies)
  const served = (rs: Round[]): string => rs.map((r) => r.sync.servedBy).join('/')
  const blocks = `${sizes.blocks} blocks × ${sizes.txsPerBlock} tx from ${SERVERS} peers`
  const anchorCeiling = 'import ceiling (no network)'
  const rows = [
    row({ metric: `P2P sync, ${blocks}`, unit: 'blocks/s', better: 'higher', ours: m(p2p, (r) => r.sync.blocksPerSec), anchor: ceil, anchorName: anchorCeiling, target: 0.8, note: `peers that served bodies: ${served(p2p)}` }),
    row({ metric: `RLPx sync, ${blocks}`, unit: 'blocks/s', better: 'higher', ours: m(rlpx, (r) => r.sync.blocksPerSec), anchor: ceil, anchorName: anchorCeiling, target: 0.8, note: `peers that served bodies: ${served(rlpx)}` }),
    row({ metric: `sync, ${blocks}`, unit: 'blocks/s', better: 'higher', ours: m(p2p, (r) => r.sync.blocksPerSec), anchor: m(rlpx, (r) => r.sync.blocksPerSec), anchorName: 'RLPx path', target: 1 }),
    row({ metric: `P2P sync into a dataDir, ${blocks}`, unit: 'blocks/s', better: 'higher', ours: m(p2p, (r) => r.onDisk!.blocksPerSec), anchor: m(p2p, (r) => r.sync.blocksPerSec), anchorName: 'P2P sync in memory', target: 0.7, note: 'LevelDB, one atomic batch per block' }),
    row({ metric: 'sync, bytes received', unit: 'MB/s', better: 'higher', ours: m(p2p, (r) => r.sync.mbPerSec), anchor: m(rlpx, (r) => r.sync.mbPerSec), anchorName: 'RLPx path', note: 'wire bytes (framing, encryption) while syncing' }),
    row({ metric: `tx across a ${LINE}-node line, p50`, unit: 'ms', better: 'lower', ours: median(lat(p2p)), anchor: median(lat(rlpx)), anchorName: 'RLPx path', note: `${sizes.txs} transactions per round, A's pool to E's pool, 4 hops` }),
    row({ metric: `tx across a ${LINE}-node line, p99`, unit: 'ms', better: 'lower', ours: p99(lat(p2p)), anchor: p99(lat(rlpx)), anchorName: 'RLPx path' }),
  ]
  return {
    bench: 'sync',
    rounds,
    headline: 0,
    rows,
    notes: [
      'dataDir row: the same P2P sync by a client with a fresh dataDir (its chain on LevelDB, one batch per block that becomes the head), once per P2P round',
      `after one unrecorded sync per path (warm-up), the syncing EthereumClient runs here, its ${SERVERS} servers per path (one stored chain) in a child process; its synchronizer starts once it has all ${SERVERS} peers; the time runs until its head is the chain's head (every block executed)`,
      `import ceiling: the same blocks, decoded from their bytes, put into a fresh Chain in batches of ${IMPORT_BATCH} (the synchronizer's import batch), once per round and side; the best of them`,
      `transaction line: ${LINE} clients in this process, each linked to its neighbours only; one transaction at a time, from A's txPool.add until E's pool emits it`,
      'RLPx MB/s counts devp2p\'s snappy-compressed frames, P2P\'s are uncompressed: compare blocks/s, not bytes',
    ],
  }
}

export const sync: Bench = {
  name: 'sync',
  description: `an empty client syncs 1024 blocks with transactions from ${SERVERS} peers (blocks/s, MB/s, share of the import ceiling; into a dataDir); tx latency across a ${LINE}-node line; P2P vs RLPx`,
  run,
}
