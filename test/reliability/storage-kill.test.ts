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
import { NODE_PREFIX } from '../../src/client/db/keys'
import { type KvStore, prefixed } from '../../src/client/db/kvstore'
import { LevelKvStore } from '../../src/client/db/level'
import { nodeRefs } from '../../src/client/db/trierefs'
import { buildTestChain } from '../../src/client/testing/testchain'
import { tempDir } from '../utils/disk'
import { badInput } from './table'
import { prng } from '../utils/prng'

const CHAIN_ID = 4321
const BLOCKS = 256
/**
 * Kill points: half at a random moment (up to KILL_WINDOW_MS after the child opened its
 * store), half while a random one of its first 8 batches is being written. The chain is long
 * enough that every kill lands before the import ends.
 */
const KILLS = 8
const SEED = 0x15
const KILL_WINDOW_MS = 600
const CHILD = join(process.cwd(), 'test/reliability/storage-kill-child.ts')
const CHILD_TIMEOUT_MS = 60_000

interface ChildRun {
  /** Last head the child reported written. */
  lastHead: number
  opened: number
  signal: NodeJS.Signals | null
  done: boolean
}

/** Runs the child until it exits; `killAfterMs` SIGKILLs it that long after it opened the store. */
function runChild(args: string[], killAfterMs?: number): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const run: ChildRun = { lastHead: -1, opened: -1, signal: null, done: false }
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  let timer: NodeJS.Timeout | undefined
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { opened?: number; head?: number; done?: number }
    if (msg.opened !== undefined) {
      run.opened = msg.opened
      if (killAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    }
    if (msg.head !== undefined) run.lastHead = msg.head
    if (msg.done !== undefined) run.done = true
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

describe('kill test: SIGKILL during block import', () => {
  badInput('storage', {
    case: `SIGKILL of a node importing into its dataDir, at ${KILLS} seeded points (random moments, mid-batch)`,
    expected: 'each restart opens at a block of the chain whose state is stored (hash-checked) with its receipts, nothing acknowledged lost; import runs on to the end',
    timeoutMs: 600_000,
    run: async () => {
      const common = Common.custom({ chainId: CHAIN_ID, name: 'kill-test' })
      const src = await buildTestChain({ common, blocks: BLOCKS, txsPerBlock: 2, seed: 'kill' })
      const dir = tempDir('kill')
      try {
        const blocksFile = join(dir.path, 'blocks.rlp')
        writeFileSync(blocksFile, RLP.encode(src.blocks.map((b) => b.serialize())))
        const dataDir = join(dir.path, 'data')
        const args = ['--dataDir', dataDir, '--blocks', blocksFile, '--chainId', String(CHAIN_ID)]
        const rand = prng(SEED)
        let written = -1
        const heads: number[] = []
        for (let k = 0; k < KILLS; k++) {
          const atBatch = k % 2 === 1
          const run = atBatch ? await runChild([...args, '--kill-at-batch', String(1 + Math.floor(rand() * 8))]) : await runChild(args, Math.floor(rand() * KILL_WINDOW_MS))
          expect(run.done, 'the import finished before the kill point').toBe(false)
          expect(run.signal).toBe('SIGKILL')
          written = Math.max(written, run.lastHead)

          const store = await ChainStore.open({ kv: await LevelKvStore.open(join(dataDir, 'chaindata'), { dataDir }), common })
          try {
            const head = store.head
            // Nothing the child saw written is lost, and the head is a block of the chain with its state.
            expect(Number(head.number)).toBeGreaterThanOrEqual(written)
            expect(bytesToHex(head.hash())).toBe(bytesToHex(head.number === 0n ? store.blockchain.genesisBlock.hash() : src.blocks[Number(head.number) - 1]!.hash()))
            expect(walkState(store.kv, head.stateRoot)).toBeGreaterThan(0)
            expect(store.receipts(head.hash())).toBeDefined()
            heads.push(Number(head.number))
          } finally {
            await store.close()
          }
        }
        const last = await runChild(args)
        expect(last.done).toBe(true)
        const store = await ChainStore.open({ kv: await LevelKvStore.open(join(dataDir, 'chaindata'), { dataDir }), common })
        try {
          expect(store.head.number).toBe(BigInt(BLOCKS))
          expect(bytesToHex(store.head.hash())).toBe(bytesToHex(src.blocks[BLOCKS - 1]!.hash()))
          walkState(store.kv, store.head.stateRoot)
        } finally {
          await store.close()
        }
        expect(heads.length, `heads after kills: ${heads.join(', ')}`).toBe(KILLS)
        process.stdout.write(`kill test: ${KILLS} kills, heads after restart ${heads.join(', ')}, then ${BLOCKS}\n`)
      } finally {
        dir.remove()
      }
    },
  })
})
