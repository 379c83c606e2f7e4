import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { expect } from 'vitest'

import { Common } from '../../src/chain-config'
import { Config } from '../../src/client/config'
import { ChainStore } from '../../src/client/db/chainstore'
import { StorageError } from '../../src/client/db/errors'
import { NODE_PREFIX, REFCOUNT_PREFIX } from '../../src/client/db/keys'
import { prefixed } from '../../src/client/db/kvstore'
import { LevelKvStore } from '../../src/client/db/level'
import { NODE_KEY_FILE } from '../../src/client/db/nodekey'
import { ConfigError } from '../../src/client/errors'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { FailingKvStore, isRoot, readOnlyDir, smallTmpfs, tempDir } from '../utils/disk'
import { openStoredChain } from '../utils/stored-chain'
import { badInputTable, expectRejectsTyped, expectThrowsTyped } from './table'

/**
 * The dataDir under hostile conditions: a database another process holds, damaged or
 * truncated files, a read-only directory, a full disk, records that contradict each other,
 * another chain's database, a damaged node key. Each gives one typed error naming the place;
 * none leaves a partial head behind.
 */

const common = (): Common => Common.custom({ chainId: 1234, name: 'storage-faults' })
let chain: Promise<TestChain> | undefined
const testChain = (): Promise<TestChain> => (chain ??= buildTestChain({ common: common(), blocks: 8, txsPerBlock: 2, seed: 'storage' }))

async function withDir(label: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir(label)
  try {
    await fn(dir.path)
  } finally {
    dir.remove()
  }
}

/** A closed database holding blocks 1..`blocks` of the test chain. */
async function filled(dir: string, blocks: number): Promise<void> {
  const s = await openStoredChain(dir, common())
  await s.chain.putBlocks((await testChain()).blocks.slice(0, blocks))
  await s.close()
}

/**
 * Imports until an injected write failure: the chain fails (its `failed` event, every later
 * call refused with the same error, its head the last one written), and the reopened store
 * has that head, with its state, and nothing of the failed batch.
 */
async function failedWriteLeavesNoPartialHead(error: () => Error, code: string): Promise<void> {
  await withDir('fail', async (dir) => {
    const kv = new FailingKvStore(await LevelKvStore.open(dir, { dataDir: dir }), error)
    const s = await openStoredChain(dir, common(), { kv })
    const { blocks } = await testChain()
    await s.chain.putBlocks(blocks.slice(0, 3))
    const failed = new Promise<Error>((resolve) => s.chain.events.once('failed', resolve))
    kv.failAfter(0)
    const err = await expectRejectsTyped(s.chain.putBlocks(blocks.slice(3, 6)), StorageError, code)
    expect(await failed).toBe(err)
    expect(s.chain.headers.height).toBe(3n)
    await expectRejectsTyped(s.chain.putBlocks(blocks.slice(3, 6)), StorageError, code)
    await expectRejectsTyped(s.chain.getBlock(1n), StorageError, code)
    await s.close()
    const reopened = await ChainStore.open({ kv: await LevelKvStore.open(dir, { dataDir: dir }), common: common() })
    expect(reopened.head.number).toBe(3n)
    expect(reopened.nodes.hasState(reopened.head.stateRoot)).toBe(true)
    expect(reopened.receipts(blocks[3]!.hash())).toBeUndefined()
    await reopened.close()
  })
}

badInputTable('storage', 'the dataDir and its database', [
  {
    case: 'a second node on a dataDir in use',
    expected: "ConfigError (ERR_CONFIG_INVALID) on option dataDir: '<dataDir> is in use by another process'",
    run: () =>
      withDir('in-use', async (dir) => {
        const db = join(dir, 'chaindata')
        const kv = await LevelKvStore.open(db, { dataDir: dir })
        try {
          const err = await expectRejectsTyped(LevelKvStore.open(db, { dataDir: dir }), ConfigError, 'ERR_CONFIG_INVALID')
          expect(err.option).toBe('dataDir')
          expect(err.message).toContain(`${dir} is in use by another process`)
        } finally {
          await kv.close()
        }
      }),
  },
  {
    case: 'CURRENT names a manifest that is gone',
    expected: 'StorageError (ERR_STORAGE_CORRUPT) naming the database, at open',
    run: () =>
      withDir('corrupt', async (dir) => {
        await filled(dir, 1)
        writeFileSync(join(dir, 'CURRENT'), 'MANIFEST-999999\n')
        const err = await expectRejectsTyped(LevelKvStore.open(dir, { dataDir: dir }), StorageError, 'ERR_STORAGE_CORRUPT')
        expect(err.location).toBe(dir)
      }),
  },
  {
    case: 'the manifest truncated to 3 bytes',
    expected: 'StorageError (ERR_STORAGE_CORRUPT), at open',
    run: () =>
      withDir('truncated', async (dir) => {
        await filled(dir, 1)
        const manifest = readdirSync(dir).find((f) => f.startsWith('MANIFEST-'))!
        writeFileSync(join(dir, manifest), Buffer.from([1, 2, 3]))
        await expectRejectsTyped(LevelKvStore.open(dir, { dataDir: dir }), StorageError, 'ERR_STORAGE_CORRUPT')
      }),
  },
  {
    case: 'the head block without its state (root node deleted)',
    expected: "StorageError (ERR_STORAGE_CORRUPT): 'the state of head block 2 ... is not stored'",
    run: () =>
      withDir('no-state', async (dir) => {
        await filled(dir, 2)
        const kv = await LevelKvStore.open(dir, { dataDir: dir })
        const root = (await testChain()).blocks[1]!.header.stateRoot
        await kv.batch([
          { type: 'del', key: prefixed(NODE_PREFIX, root) },
          { type: 'del', key: prefixed(REFCOUNT_PREFIX, root) },
        ])
        const err = await expectRejectsTyped(ChainStore.open({ kv, common: common() }), StorageError, 'ERR_STORAGE_CORRUPT')
        await kv.close()
        expect(err.message).toContain('state of head block 2')
      }),
  },
  {
    case: 'the head record names a block that is not the chain head',
    expected: 'StorageError (ERR_STORAGE_CORRUPT), at open',
    run: () =>
      withDir('head-record', async (dir) => {
        await filled(dir, 2)
        const kv = await LevelKvStore.open(dir, { dataDir: dir })
        await kv.batch([{ type: 'put', key: Buffer.from('mhead'), value: (await testChain()).blocks[0]!.hash() }])
        await expectRejectsTyped(ChainStore.open({ kv, common: common() }), StorageError, 'ERR_STORAGE_CORRUPT')
        await kv.close()
      }),
  },
  {
    case: 'a dataDir of another chain (other genesis, other chain id)',
    expected: "ConfigError (ERR_CONFIG_INVALID) on option dataDir: '... holds another chain'",
    run: () =>
      withDir('other-chain', async (dir) => {
        await filled(dir, 0)
        const kv = await LevelKvStore.open(dir, { dataDir: dir })
        try {
          for (const other of [Common.custom({ chainId: 999, name: 'other' }), Common.custom({ chainId: 1234, name: 'other', gasLimit: 50_000_000n })]) {
            const err = await expectRejectsTyped(ChainStore.open({ kv, common: other }), ConfigError, 'ERR_CONFIG_INVALID')
            expect(err.message).toContain('holds another chain')
          }
        } finally {
          await kv.close()
        }
      }),
  },
  {
    case: 'a read-only dataDir: the database cannot be created',
    expected: 'StorageError (ERR_STORAGE_READ_ONLY), nothing written',
    run: async () => {
      const dir = readOnlyDir()
      try {
        await expectRejectsTyped(LevelKvStore.open(join(dir.path, 'chaindata'), { dataDir: dir.path }), StorageError, 'ERR_STORAGE_READ_ONLY')
      } finally {
        dir.remove()
      }
    },
  },
  {
    case: 'a read-only dataDir: the node key cannot be created',
    expected: 'StorageError (ERR_STORAGE_READ_ONLY) from new Config',
    run: () => {
      const dir = readOnlyDir()
      try {
        expectThrowsTyped(() => new Config({ dataDir: dir.path }), StorageError, 'ERR_STORAGE_READ_ONLY')
      } finally {
        dir.remove()
      }
    },
  },
  {
    case: 'a damaged node key file (not hex, zero key, short)',
    expected: 'ConfigError (ERR_CONFIG_INVALID) on option dataDir naming the file; no new identity',
    run: () =>
      withDir('nodekey', async (dir) => {
        for (const content of ['not hex', '00'.repeat(32), 'ab'.repeat(31)]) {
          writeFileSync(join(dir, NODE_KEY_FILE), content)
          const err = expectThrowsTyped(() => new Config({ dataDir: dir }), ConfigError, 'ERR_CONFIG_INVALID')
          expect(err.message).toContain(join(dir, NODE_KEY_FILE))
        }
      }),
  },
  {
    case: 'a write error injected into the 4th block batch',
    expected: "StorageError (ERR_STORAGE_FULL) from putBlocks, the chain's 'failed' event, every later call refused; head stays 3; reopens at block 3 with its state",
    run: () => failedWriteLeavesNoPartialHead(() => new StorageError('ERR_STORAGE_FULL', 'injected', 'no space left on device'), 'ERR_STORAGE_FULL'),
  },
  {
    case: isRoot ? 'a full disk (1 MiB tmpfs) under LevelDB' : 'a full disk (skipped without root: needs a tmpfs mount)',
    expected: 'StorageError (ERR_STORAGE_FULL) from the batch; none of it kept, earlier batches readable',
    run: async () => {
      if (!isRoot) return
      const fs = smallTmpfs(1024)
      const kv = await LevelKvStore.open(join(fs.path, 'db'), { dataDir: fs.path })
      try {
        let err: unknown
        let i = 0
        for (; i < 200 && err === undefined; i++) {
          const ops = [
            { type: 'put' as const, key: Uint8Array.of(i), value: new Uint8Array(30_000).fill(i) },
            { type: 'put' as const, key: Uint8Array.of(i, 0), value: Uint8Array.of(i) },
          ]
          await kv.batch(ops).catch((e: unknown) => (err = e))
        }
        expect(err, 'the disk never filled').toBeInstanceOf(StorageError)
        expect((err as StorageError).code).toBe('ERR_STORAGE_FULL')
        expect(kv.get(Uint8Array.of(i - 1, 0))).toBeUndefined()
        expect(kv.get(Uint8Array.of(i - 2, 0))).toEqual(Uint8Array.of(i - 2))
      } finally {
        await kv.close().catch(() => undefined)
        fs.unmount()
      }
    },
  },
])
