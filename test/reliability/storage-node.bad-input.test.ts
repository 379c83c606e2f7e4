/**
 * A whole node on a hostile dataDir: damaged or truncated database files, a read-only
 * dataDir, a disk that fills while the node syncs, a peer whose chain forks below the states
 * kept, and a JSON-RPC state query at a pruned block. Each is one clear error (or a head
 * that is consistent) and never a partial head; a node that cannot start says why every time
 * (no stale lock, no crash loop).
 */
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'

import { bytesToHex } from '@ethereumjs/util'
import { afterAll, beforeAll, expect } from 'vitest'

import { testAccounts } from '../../src/chain-config'
import { Config, EthereumClient, Event } from '../../src/client'
import { Chain } from '../../src/client/blockchain/chain'
import { DataDir, CHAIN_DATA_DIR } from '../../src/client/db/datadir'
import { StorageError } from '../../src/client/db/errors'
import { ForkTooDeepError } from '../../src/client/sync/errors'
import { type ForkedChains, type TestChain, buildForkedChains, buildTestChain } from '../../src/client/testing/testchain'
import { CHAIN_ID, chainWith, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'
import { isRoot, smallTmpfs, tempDir } from '../utils/disk'
import { badInputTable, expectRejectsTyped } from './table'

const common = testCommon(CHAIN_ID)
/** The full-disk case's tmpfs: room for the empty database and a few dozen of the 96 blocks. */
const FULL_DISK_KIB = 160
let src: TestChain
let fork: ForkedChains

beforeAll(async () => {
  src = await buildTestChain({ common, blocks: 96, txsPerBlock: 2, seed: 'storage-node' })
  // Branch 0: 12 blocks above #2 (head #14); branch 1: 14 above #2 (head #16, longer).
  fork = await buildForkedChains({ common, shared: 2, branches: [12, 14], txsPerBlock: 1 })
}, 120_000)

const clients: EthereumClient[] = []
const stopClients = async (): Promise<void> => void (await Promise.all(clients.splice(0).map((c) => c.stop())))
afterAll(stopClients)

/** Runs `fn` on a fresh directory; the clients it started are stopped and the directory removed after it. */
async function inDataDir(label: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir(label)
  try {
    await fn(dir.path)
  } finally {
    await stopClients()
    dir.remove()
  }
}

/** Writes `blocks` into the chain of `dataDir` (as a node that ran and stopped would have). */
async function filledDataDir(dataDir: string, blocks: Parameters<Chain['putBlocks']>[0], stateHistory?: number): Promise<void> {
  const dir = await DataDir.open(dataDir, { common, stateHistory })
  const chain = await Chain.create({ common, store: dir.chain })
  await chain.putBlocks(blocks)
  await chain.close()
  await dir.close()
}

const nodeConfig = (dataDir: string, extra: ConstructorParameters<typeof Config>[0] = {}): Config =>
  new Config({ common, dataDir, port: 0, discPort: 0, bindAddress: '127.0.0.1', discV4: false, ...extra })

/** The node CLI on `dataDir`: its exit code and what it printed to stderr. */
async function cli(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/client/bin/node.ts'), '--dataDir', dataDir, '--port', '0', '--bindAddress', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stderr }
}

badInputTable('storage', 'a node on a damaged, read-only or full dataDir', [
  {
    case: 'a node started on a database whose table file is cut in half',
    expected: 'StorageError (ERR_STORAGE_CORRUPT) from EthereumClient.create naming chaindata, the same at every retry (lock released); the CLI exits 1 saying the database is damaged',
    timeoutMs: 60_000,
    run: async () => {
      await inDataDir('node-corrupt', async (dir) => {
      await filledDataDir(dir, src.blocks.slice(0, 8))
      // A reopen moves the write-ahead log into a table file: the file to damage.
      await (await DataDir.open(dir, { common })).close()
      const db = join(dir, CHAIN_DATA_DIR)
      const table = readdirSync(db).find((f) => f.endsWith('.ldb'))!
      truncateSync(join(db, table), Math.floor(statSync(join(db, table)).size / 2))
      for (let attempt = 0; attempt < 2; attempt++) {
        const err = await expectRejectsTyped(EthereumClient.create({ config: nodeConfig(dir) }), StorageError, 'ERR_STORAGE_CORRUPT')
        expect(err.location).toBe(db)
      }
      const { code, stderr } = await cli(dir)
      expect(code).toBe(1)
      expect(stderr).toContain('error: ')
      expect(stderr).toContain('the database is damaged or truncated')
      })
    },
  },
  {
    case: "a node started on a database whose write-ahead log lost its tail (a torn last write)",
    expected: 'opens at an earlier block of the chain with its state (the torn batches dropped whole), and serves and executes on from there',
    timeoutMs: 60_000,
    run: async () => {
      await inDataDir('node-torn-log', async (dir) => {
      await filledDataDir(dir, src.blocks.slice(0, 8))
      const db = join(dir, CHAIN_DATA_DIR)
      const log = readdirSync(db).find((f) => f.endsWith('.log'))!
      truncateSync(join(db, log), Math.floor(statSync(join(db, log)).size * 0.6))
      const client = await EthereumClient.create({ config: nodeConfig(dir, { sync: false }) })
      clients.push(client)
      const head = client.chain.headers.latest
      expect(head.number).toBeGreaterThan(0n)
      expect(head.number).toBeLessThan(8n)
      expect(bytesToHex(head.hash())).toBe(bytesToHex(src.blocks[Number(head.number) - 1]!.hash()))
      await client.chain.getAccount(testAccounts[0]!.address)
      expect(await client.chain.putBlocks(src.blocks.slice(0, 8))).toBe(8 - Number(head.number))
      await client.stop()
      })
    },
  },
  {
    case: 'a node started on a read-only dataDir that holds a chain',
    expected: 'StorageError (ERR_STORAGE_READ_ONLY) from EthereumClient.create, nothing written; the CLI exits 1 saying the dataDir is read-only',
    timeoutMs: 60_000,
    run: async () => {
      // Root writes through file modes: a read-only mount is the only read-only dataDir for it.
      const base = isRoot ? smallTmpfs(8192) : undefined
      const made = base === undefined ? tempDir('node-ro') : { path: join(base.path, 'data'), remove: base.unmount }
      const dir = made.path
      try {
        if (base !== undefined) mkdirSync(dir)
        await filledDataDir(dir, src.blocks.slice(0, 4))
        new Config({ common, dataDir: dir }) // creates the node key while it can
        const db = join(dir, CHAIN_DATA_DIR)
        const before = readdirSync(db).map((f) => `${f}:${statSync(join(db, f)).size}`).sort()
        if (base !== undefined) base.readOnly()
        else makeReadOnly(dir)
        await expectRejectsTyped(EthereumClient.create({ config: nodeConfig(dir) }), StorageError, 'ERR_STORAGE_READ_ONLY')
        expect(readdirSync(db).map((f) => `${f}:${statSync(join(db, f)).size}`).sort()).toEqual(before)
        const { code, stderr } = await cli(dir)
        expect(code).toBe(1)
        expect(stderr).toContain('the dataDir is read-only')
      } finally {
        if (base === undefined) makeWritable(dir)
        made.remove()
      }
    },
  },
  {
    case: isRoot ? `the disk fills (a ${FULL_DISK_KIB} KiB tmpfs) while a node syncs into its dataDir` : 'the disk fills while a node syncs (skipped without root: needs a tmpfs mount; the chain-level injected write error covers it)',
    expected: "StorageError (ERR_STORAGE_FULL) as CHAIN_FAILED, the node stops itself (CLIENT_SHUTDOWN); with room again it reopens at a block of the chain with its state and syncs to the peer's head",
    timeoutMs: 120_000,
    run: async () => {
      if (!isRoot) return
      const fs = smallTmpfs(FULL_DISK_KIB)
      try {
        const dataDir = join(fs.path, 'data')
        const peer = await startNode({ common, chain: await chainWith(common, src.blocks, src.receipts), sync: false, discV4: false })
        clients.push(peer.client)
        const client = await EthereumClient.create({ config: nodeConfig(dataDir, { bootnodes: [peer.url] }) })
        clients.push(client)
        const failed = client.config.events.waitFor(Event.CHAIN_FAILED, { timeoutMs: WAIT_MS * 3 })
        await client.start()
        const [err] = await failed
        expect(err).toBeInstanceOf(StorageError)
        expect((err as StorageError).code).toBe('ERR_STORAGE_FULL')
        // The client stops itself.
        await waitUntil([client.config.events], [Event.CLIENT_SHUTDOWN], () => client.state === 'stopped')
        fs.resize(65_536)
        const again = await EthereumClient.create({ config: nodeConfig(dataDir, { bootnodes: [peer.url] }) })
        clients.push(again)
        const head = again.chain.headers.latest
        // Some blocks were written before the disk filled, not all of them.
        expect(head.number).toBeGreaterThan(0n)
        expect(head.number).toBeLessThan(BigInt(src.blocks.length))
        expect(bytesToHex(head.hash())).toBe(bytesToHex(src.blocks[Number(head.number) - 1]!.hash()))
        await again.chain.getAccount(testAccounts[0]!.address)
        await again.start()
        const last = src.blocks.length
        await waitUntil([again.config.events], [Event.CHAIN_UPDATED], () => again.chain.headers.height === BigInt(last), { timeoutMs: WAIT_MS * 3 })
        await again.stop()
        await peer.client.stop()
      } finally {
        await stopClients()
        fs.unmount()
      }
    },
  },
  {
    case: 'a peer whose longer chain forks below the states a dataDir keeps (fork at #2, head #14, 8 states kept)',
    expected: 'ForkTooDeepError (ERR_PEER_SYNC_FORK_TOO_DEEP, naming stateHistory) as PEER_ERROR; the peer is not banned, the head stays; nothing executed on a pruned state',
    timeoutMs: 60_000,
    run: async () => {
      await inDataDir('node-deep-fork', async (dir) => {
      const [ours, theirs] = fork.branches
      await filledDataDir(dir, [...fork.shared, ...ours!.blocks], 8)
      const peer = await startNode({ common, chain: await chainWith(common, [...fork.shared, ...theirs!.blocks]), sync: false, discV4: false })
      clients.push(peer.client)
      const peerId = bytesToHex(peer.client.config.nodeId).slice(2)
      let refused: Promise<unknown[]> | undefined
      const node = await startNode({
        common,
        dataDir: dir,
        stateHistory: 8,
        discV4: false,
        bootnodes: [peer.url],
        beforeStart: (c) => {
          refused = c.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS, filter: (e) => e instanceof ForkTooDeepError })
        },
      })
      clients.push(node.client)
      const [err] = (await refused!) as [Error]
      expect(err.message).toContain('stateHistory')
      expect(bytesToHex(node.client.chain.headers.latest.hash())).toBe(bytesToHex(ours!.blocks[11]!.hash()))
      expect(node.client.service.pool.isBanned(peerId)).toBe(false)
      await node.client.stop()
      })
    },
  },
  {
    case: 'eth_getBalance at a block whose state a dataDir pruned (10 blocks, 4 states kept)',
    expected: "JSON-RPC error -32000 'missing trie node <root>: the state of block 2 … is pruned'; at a kept block the balance",
    timeoutMs: 60_000,
    run: async () => {
      await inDataDir('node-rpc-pruned', async (dir) => {
      await filledDataDir(dir, src.blocks.slice(0, 10), 4)
      const { client } = await startNode({ common, dataDir: dir, stateHistory: 4, discV4: false, sync: false, rpcPort: 0 })
      clients.push(client)
      const call = async (block: string): Promise<{ result?: string; error?: { code: number; message: string } }> => {
        const res = await fetch(client.rpc!.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [testAccounts[0]!.address.toString(), block] }),
        })
        return (await res.json()) as { result?: string; error?: { code: number; message: string } }
      }
      const pruned = await call('0x2')
      expect(pruned.error?.code).toBe(-32000)
      expect(pruned.error?.message).toMatch(/^missing trie node 0x[0-9a-f]{64}: the state of block 2 /)
      const kept = await call('0x9')
      expect(kept.error).toBeUndefined()
      expect(BigInt(kept.result!)).toBe((await client.chain.getAccount(testAccounts[0]!.address, src.blocks[8]!.header)).balance)
      await client.stop()
      })
    },
  },
])

/** Without root: every directory and file of the dataDir read-only by mode. */
function makeReadOnly(path: string): void {
  chmodTree(path, 0o444, 0o555)
}

function makeWritable(path: string): void {
  chmodTree(path, 0o644, 0o755)
}

function chmodTree(path: string, fileMode: number, dirMode: number): void {
  for (const name of readdirSync(path)) {
    const p = join(path, name)
    if (statSync(p).isDirectory()) chmodTree(p, fileMode, dirMode)
    else chmodSync(p, fileMode)
  }
  chmodSync(path, dirMode)
}
