/**
 * import: blocks per second appended by Chain.putBlocks (validated by @ethereumjs/blockchain,
 * executed on the parent's state, receipts kept), in the synchronizer's import batches, with
 * a dataDir (the Chain on a ChainStore) against in memory, and the two embedded engines the
 * dataDir could use side by side: LevelDB (classic-level, what the node uses) and LMDB
 * (lmdb-js). Each persistent import writes one atomic batch per block. Also: reopening a
 * dataDir at its head (no re-execution) against rebuilding the chain in memory, and the size
 * the database takes on disk.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { Block } from '@ethereumjs/block'

import { Chain } from '../src/client/blockchain/chain'
import { ChainStore } from '../src/client/db/chainstore'
import type { KvStore } from '../src/client/db/kvstore'
import { LevelKvStore } from '../src/client/db/level'
import { IMPORT_BATCH } from '../src/client/sync/round'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { benchCommon, testChain } from './lib/chain'
import { LmdbKvStore } from './lib/lmdb'
import { row } from './lib/report'
import { median, now, perSec } from './lib/stats'

const SIZES = { full: { blocks: 256, txsPerBlock: 4 }, quick: { blocks: 24, txsPerBlock: 2 } }

type Engine = 'level' | 'lmdb' | 'level-fsync' | 'lmdb-fsync'

interface Sample {
  rate: number
  reopenMs: number
  bytes: number
}

function openKv(engine: Engine, dir: string): KvStore | Promise<KvStore> {
  switch (engine) {
    case 'level':
      return LevelKvStore.open(dir, { dataDir: dir })
    case 'level-fsync':
      return LevelKvStore.open(dir, { dataDir: dir, syncWrites: true })
    case 'lmdb':
      return LmdbKvStore.open(dir, { syncWrites: false })
    case 'lmdb-fsync':
      return LmdbKvStore.open(dir, { syncWrites: true })
  }
}

/** Puts `blocks` into `chain` as the synchronizer does: IMPORT_BATCH blocks per call. Returns blocks/s. */
async function putAll(chain: Chain, blocks: readonly Block[]): Promise<number> {
  const t0 = now()
  for (let i = 0; i < blocks.length; i += IMPORT_BATCH) await chain.putBlocks(blocks.slice(i, i + IMPORT_BATCH))
  return perSec(blocks.length, now() - t0)
}

/** A Chain on a ChainStore in `dir`, as a client with a dataDir runs it. */
async function storedChain(engine: Engine, dir: string): Promise<{ chain: Chain; close: () => Promise<void> }> {
  const common = benchCommon()
  const store = await ChainStore.open({ kv: await openKv(engine, dir), common })
  const chain = await Chain.create({ common, store })
  return { chain, close: async () => (await chain.close(), await store.close()) }
}

async function persistent(engine: Engine, blocks: number, txsPerBlock: number): Promise<Sample> {
  const src = await testChain(blocks, txsPerBlock)
  const dir = mkdtempSync(join(tmpdir(), `ethp2p-import-${engine}-`))
  try {
    let stored = await storedChain(engine, dir)
    const rate = await putAll(stored.chain, src.blocks)
    await stored.close()
    const t1 = now()
    stored = await storedChain(engine, dir)
    const reopenMs = now() - t1
    const height = stored.chain.headers.height
    await stored.close()
    if (height !== BigInt(blocks)) throw new Error(`${engine}: reopened at ${height}, expected ${blocks}`)
    return { rate, reopenMs, bytes: sizeOf(dir) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function inMemory(blocks: number, txsPerBlock: number): Promise<Sample> {
  const src = await testChain(blocks, txsPerBlock)
  const t0 = now()
  const chain = await Chain.create({ common: benchCommon() })
  const rate = await putAll(chain, src.blocks)
  const t2 = now()
  await chain.close()
  // Rebuilding a restarted in-memory node: its genesis state, then every block again.
  return { rate, reopenMs: t2 - t0, bytes: 0 }
}

function sizeOf(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name))
    total += st.isDirectory() ? sizeOf(join(dir, name)) : st.size
  }
  return total
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 3, 1)
  const { blocks, txsPerBlock } = ctx.quick ? SIZES.quick : SIZES.full
  const engines: Engine[] = ctx.quick ? ['level', 'lmdb'] : ['level', 'lmdb', 'level-fsync', 'lmdb-fsync']
  const sides = ['memory', ...engines] as const
  ctx.log(`import: building a ${blocks}-block chain (${txsPerBlock} tx/block)`)
  await testChain(blocks, txsPerBlock)
  const measure = (side: (typeof sides)[number]): Promise<Sample> => (side === 'memory' ? inMemory(blocks, txsPerBlock) : persistent(side, blocks, txsPerBlock))
  ctx.log('import: warm-up')
  for (const side of sides) await measure(side)
  const samples = new Map<string, Sample[]>(sides.map((s) => [s, []]))
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round, so load drift does not favour one side.
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!)
    for (const side of order) {
      samples.get(side)!.push(await measure(side))
      ctx.log(`import: round ${r + 1}/${rounds} ${side} done`)
    }
  }
  const m = (side: string, k: keyof Sample): number => median(samples.get(side)!.map((s) => s[k]))
  const rows = [
    row({ metric: 'import, LevelDB dataDir', unit: 'blocks/s', better: 'higher', ours: m('level', 'rate'), anchor: m('memory', 'rate'), anchorName: 'in memory', target: 0.7, note: 'one atomic batch per block' }),
    row({ metric: 'import, LMDB dataDir', unit: 'blocks/s', better: 'higher', ours: m('lmdb', 'rate'), anchor: m('memory', 'rate'), anchorName: 'in memory', note: 'lmdb-js, noSync' }),
    row({ metric: 'import, engines', unit: 'blocks/s', better: 'higher', ours: m('level', 'rate'), anchor: m('lmdb', 'rate'), anchorName: 'LMDB', note: 'LevelDB vs LMDB, no fsync' }),
  ]
  if (!ctx.quick) {
    rows.push(row({ metric: 'import, fsync every batch', unit: 'blocks/s', better: 'higher', ours: m('level-fsync', 'rate'), anchor: m('lmdb-fsync', 'rate'), anchorName: 'LMDB', note: 'LevelDB sync:true vs LMDB sync commits' }))
  }
  rows.push(
    row({ metric: 'restart at head', unit: 'ms', better: 'lower', ours: m('level', 'reopenMs'), anchor: m('memory', 'reopenMs'), anchorName: 'rebuild in memory', note: 'open the dataDir at its head vs re-executing the chain' }),
    row({ metric: 'database on disk', unit: 'KiB', better: 'lower', ours: m('level', 'bytes') / 1024, anchor: m('lmdb', 'bytes') / 1024, anchorName: 'LMDB', note: `${blocks} blocks, state of the last 128 kept` }),
  )
  return {
    bench: 'import',
    rounds,
    headline: 0,
    rows,
    notes: [
      `${blocks} VM-executed blocks with ${txsPerBlock} transactions each (bench/lib/chain.ts), put by Chain.putBlocks ${IMPORT_BATCH} at a time into a fresh chain per sample; rates are medians over rounds`,
      'persistent: the Chain on a ChainStore (blocks, receipts, canonical index, head, state trie nodes with reference-counted pruning) in one database, one batch per block',
      'no fsync: a batch survives the process being killed once written; fsync rows: it also survives a power loss',
    ],
  }
}

export const importBench: Bench = {
  name: 'import',
  description: 'blocks/s imported with a dataDir (LevelDB, LMDB) vs in memory; restart at head',
  run,
}
