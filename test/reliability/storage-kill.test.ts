import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { describe, expect } from 'vitest'

import { Common } from '../../src/chain-config'
import { ChainStore } from '../../src/client/db/chainstore'
import { CHAIN_DATA_DIR } from '../../src/client/db/datadir'
import { NODE_PREFIX } from '../../src/client/db/keys'
import { type KvStore, prefixed } from '../../src/client/db/kvstore'
import { LevelKvStore } from '../../src/client/db/level'
import { nodeRefs } from '../../src/client/db/trierefs'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { chainWith, startNode } from '../client/helpers/nodes'
import { tempDir } from '../utils/disk'
import { prng } from '../utils/prng'
import { badInput } from './table'

import type { EthereumClient } from '../../src/client'

const CHAIN_ID = 4321
/**
 * Kill points, each defined by progress so that neither a fast nor a loaded machine moves it
 * past the end: half "after N more blocks written, then a random delay", half "while the N-th
 * head write is in LevelDB's hands" (N and the delay seeded). Half of them on a dataDir that
 * syncs over P2P, half on one that syncs over RLPx (one path per dataDir: a node remembers its
 * peers, and the paths do not dial each other yet), each alternating with imports. Each cycle
 * adds at most MAX_BLOCKS_PER_KILL blocks plus what lands in the delay (a few at ~200
 * blocks/s), so the chain outlasts every kill.
 */
const KILLS = 20
const SEED = 0x15
const MAX_BLOCKS_PER_KILL = 8
const MAX_KILL_DELAY_MS = 25
const BLOCKS = 256
const CHILD = join(process.cwd(), 'test/reliability/storage-kill-child.ts')
/** Bound on one child's run; only a broken build reaches it. */
const CHILD_TIMEOUT_MS = 120_000

/** How the child writes its chain: syncing from a peer, or importing a file. */
type Mode = 'sync' | 'import'
type Path = 'p2p' | 'rlpx'
const PATHS: readonly Path[] = ['p2p', 'rlpx']

type KillPoint = { kind: 'after-blocks'; blocks: number; delayMs: number } | { kind: 'mid-write'; write: number }

interface ChildRun {
  opened?: { number: number; hash: string; stateRoot: string }
  /** Highest head the database acknowledged writing. */
  acknowledged: number
  signal: NodeJS.Signals | null
  done: boolean
}

/** Runs the child until it exits (or is killed at `kill`). `numberOf` maps a head hash to its number. */
function runChild(args: string[], numberOf: (hash: string) => number, kill?: KillPoint): Promise<ChildRun> {
  const extra = kill?.kind === 'mid-write' ? ['--kill-at-write', String(kill.write)] : []
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  const run: ChildRun = { acknowledged: -1, signal: null, done: false }
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  let timer: NodeJS.Timeout | undefined
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { opened?: number; hash?: string; stateRoot?: string; written?: string; done?: number }
    if (msg.opened !== undefined) {
      run.opened = { number: msg.opened, hash: msg.hash!, stateRoot: msg.stateRoot! }
      run.acknowledged = msg.opened
    }
    if (msg.written !== undefined) run.acknowledged = Math.max(run.acknowledged, numberOf(msg.written))
    if (msg.done !== undefined) run.done = true
    if (kill?.kind === 'after-blocks' && timer === undefined && run.opened !== undefined && run.acknowledged >= run.opened.number + kill.blocks) {
      timer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs)
    }
  })
  const guard = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(guard)
      run.signal = signal
      if (signal === null && code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`))
      else resolve(run)
    })
  })
}

/** Walks the state from `root`, checking that every node is stored under its keccak-256 hash. Returns the nodes seen. */
function walkState(kv: KvStore, root: Uint8Array): number {
  const seen = new Set<string>()
  const stack = [root]
  while (stack.length > 0) {
    const hash = stack.pop()!
    const hex = bytesToUnprefixedHex(hash)
    if (seen.has(hex)) continue
    const node = kv.get(prefixed(NODE_PREFIX, hash))
    if (node === undefined) throw new Error(`state node ${hex} missing`)
    if (bytesToUnprefixedHex(keccak_256(node)) !== hex) throw new Error(`state node ${hex} does not hash to its key`)
    seen.add(hex)
    stack.push(...nodeRefs(node).nodes)
  }
  return seen.size
}

/**
 * Opens the dataDir's database as the next start will, and checks its head: a block of the
 * source chain at or above what was acknowledged, whose state is complete (every node
 * hash-checked from the header's state root) and whose receipts are there.
 */
async function checkHead(dataDir: string, common: Common, src: TestChain, acknowledged: number): Promise<number> {
  const db = join(dataDir, CHAIN_DATA_DIR)
  const store = await ChainStore.open({ kv: await LevelKvStore.open(db, { dataDir }), common })
  try {
    const head = store.head
    const n = Number(head.number)
    expect(n, 'nothing acknowledged is lost').toBeGreaterThanOrEqual(acknowledged)
    const expected = n === 0 ? store.blockchain.genesisBlock : src.blocks[n - 1]!
    expect(bytesToHex(head.hash())).toBe(bytesToHex(expected.hash()))
    expect(bytesToHex(head.stateRoot)).toBe(bytesToHex(expected.header.stateRoot))
    expect(walkState(store.kv, head.stateRoot)).toBeGreaterThan(0)
    expect(store.receipts(head.hash())).toEqual(n === 0 ? [] : src.receipts[n - 1])
    return n
  } finally {
    await store.close()
  }
}

describe('kill test: SIGKILL of a node syncing or importing into its dataDir', () => {
  badInput('storage', {
    case: `SIGKILL of a node writing its dataDir (syncing over P2P or RLPx, importing), at ${KILLS} seeded progress points (after N blocks + a delay, mid-write)`,
    expected: 'each restart opens at a block of the chain with its complete state (hash-checked) and receipts, nothing acknowledged lost, and syncs on from there; the last run reaches the peer\'s head',
    timeoutMs: 900_000,
    run: async () => {
      const common = Common.custom({ chainId: CHAIN_ID, name: 'kill-test' })
      const src = await buildTestChain({ common, blocks: BLOCKS, txsPerBlock: 1, seed: 'kill' })
      const numbers = new Map<string, number>(src.blocks.map((b, i) => [bytesToHex(b.hash()), i + 1]))
      const numberOf = (hash: string): number => numbers.get(hash) ?? Number.NaN
      const dir = tempDir('kill')
      const servers: EthereumClient[] = []
      try {
        const blocksFile = join(dir.path, 'blocks.rlp')
        writeFileSync(blocksFile, RLP.encode(src.blocks.map((b) => b.serialize())))
        // One stored chain, served on both paths.
        const served = await chainWith(common, src.blocks, src.receipts)
        const peerUrl: Record<Path, string> = { p2p: '', rlpx: '' }
        for (const path of PATHS) {
          const { client, url } = await startNode({ common, chain: served, sync: false, discV4: false, useP2PServer: path === 'p2p' })
          servers.push(client)
          peerUrl[path] = url
        }
        const rand = prng(SEED)
        const log: string[] = []
        for (const path of PATHS) {
          const dataDir = join(dir.path, `data-${path}`)
          const argsFor = (mode: Mode): string[] => {
            const base = ['--dataDir', dataDir, '--chainId', String(CHAIN_ID), '--target', String(BLOCKS)]
            if (mode === 'import') return [...base, '--mode', 'import', '--blocks', blocksFile]
            return [...base, '--mode', 'sync', '--peer', peerUrl[path], ...(path === 'p2p' ? ['--p2p'] : [])]
          }
          let head = 0
          for (let k = 0; k < KILLS / PATHS.length; k++) {
            const mode: Mode = k % 2 === 0 ? 'sync' : 'import'
            const blocks = 1 + Math.floor(rand() * MAX_BLOCKS_PER_KILL)
            const kill: KillPoint = Math.floor(k / 2) % 2 === 0 ? { kind: 'after-blocks', blocks, delayMs: Math.floor(rand() * MAX_KILL_DELAY_MS) } : { kind: 'mid-write', write: blocks }
            const run = await runChild(argsFor(mode), numberOf, kill)
            expect(run.done, `the run reached the peer's head before kill point ${k}`).toBe(false)
            expect(run.signal).toBe('SIGKILL')
            // The restart opened where the previous kill left the database.
            expect(run.opened?.number).toBe(head)
            expect(run.opened?.hash).toBe(bytesToHex(head === 0 ? served.genesis.hash() : src.blocks[head - 1]!.hash()))
            head = await checkHead(dataDir, common, src, run.acknowledged)
            log.push(`${path} ${mode} ${kill.kind === 'mid-write' ? `in write ${kill.write}` : `${kill.blocks} blocks + ${kill.delayMs} ms`} → #${head}`)
          }
          const last = await runChild(argsFor('sync'), numberOf)
          expect(last.done).toBe(true)
          expect(last.opened?.number).toBe(head)
          expect(await checkHead(dataDir, common, src, BLOCKS)).toBe(BLOCKS)
        }
        expect(log).toHaveLength(KILLS)
        process.stdout.write(`kill test: ${KILLS} kills (${log.join('; ')}), each dataDir then synced to #${BLOCKS}\n`)
      } finally {
        for (const s of servers) await s.stop()
        dir.remove()
      }
    },
  })
})
