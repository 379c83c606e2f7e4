import { MerkleStateManager } from '@ethereumjs/statemanager'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { ValueEncoding, bytesToHex } from '@ethereumjs/util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { Common, testAccounts } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { ChainError, StatePrunedError } from '../../../src/client/blockchain/errors'
import { ChainStore } from '../../../src/client/db/chainstore'
import { LevelKvStore } from '../../../src/client/db/level'
import { type ForkedChains, type TestChain, buildForkedChains, buildTestChain } from '../../../src/client/testing/testchain'
import { expectRejectsTyped } from '../../reliability/table'
import { FailingKvStore, tempDir } from '../../utils/disk'
import { type StoredChain, openStoredChain } from '../../utils/stored-chain'

const common = (): Common => Common.custom({ chainId: 1234, name: 'db-test' })
const hex = (b: { hash(): Uint8Array }): string => bytesToHex(b.hash())

async function withStore(label: string, fn: (dir: string, open: (stateHistory?: number) => Promise<StoredChain>) => Promise<void>): Promise<void> {
  const dir = tempDir(label)
  const opened: StoredChain[] = []
  try {
    await fn(dir.path, async (stateHistory) => {
      const s = await openStoredChain(dir.path, common(), { stateHistory })
      opened.push(s)
      return s
    })
  } finally {
    for (const s of opened) await s.close()
    dir.remove()
  }
}

describe('Chain on a ChainStore', () => {
  let src: TestChain
  let memory: Chain
  beforeAll(async () => {
    src = await buildTestChain({ common: common(), blocks: 24, txsPerBlock: 3, seed: 'chainstore' })
    memory = await Chain.create({ common: common() })
    await memory.putBlocks(src.blocks)
  })
  afterAll(() => memory.close())

  it('imports, closes, reopens at the same head with its state, receipts and blocks, without re-executing', async () => {
    await withStore('chainstore', async (_dir, open) => {
      let s = await open()
      expect(s.chain.headers.height).toBe(0n)
      expect(await s.chain.putBlocks(src.blocks.slice(0, 20))).toBe(20)
      await s.close()

      s = await open()
      const head = s.chain.headers.latest
      expect(head.number).toBe(20n)
      expect(hex(head)).toBe(hex(src.blocks[19]!))
      expect(s.store.head.number).toBe(20n)
      // The stored state at the head root holds the accounts the blocks' transactions changed,
      // as the chain reads them and as a state manager on the raw node store does.
      const sm = new MerkleStateManager({ trie: new MerklePatriciaTrie({ db: s.store.nodes, root: head.stateRoot, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes }) })
      for (const account of testAccounts.slice(0, 3)) {
        const { nonce } = await s.chain.getAccount(account.address)
        expect(nonce).toBeGreaterThan(0n)
        expect((await sm.getAccount(account.address))?.nonce).toBe(nonce)
        expect(nonce).toBe((await memory.getAccount(account.address, src.blocks[19]!.header)).nonce)
      }
      const hashes = src.blocks.slice(0, 20).map((b) => b.hash())
      expect(await s.chain.getReceipts(hashes)).toEqual(src.receipts.slice(0, 20))
      expect(await s.chain.getBodies(hashes)).toEqual(await memory.getBodies(hashes))
      expect((await s.chain.getHeaders(1n, 20, 0, false)).map(hex)).toEqual(src.blocks.slice(0, 20).map(hex))
      // Executing on from the reopened state reproduces the next blocks' state roots.
      expect(await s.chain.putBlocks(src.blocks)).toBe(4)
      expect(s.chain.headers.height).toBe(24n)
    })
  })

  it('keeps the states of the last `stateHistory` blocks: older ones are StatePrunedError, their blocks stay', async () => {
    await withStore('chainstore-prune', async (_dir, open) => {
      const { chain, store } = await open(5)
      expect(chain.stateHistory).toBe(5)
      await chain.putBlocks(src.blocks)
      expect(store.nodes.retained.map((r) => r.number)).toEqual([20n, 21n, 22n, 23n, 24n])
      const who = testAccounts[0]!.address
      expect(await chain.getAccount(who, src.blocks[19]!.header)).toEqual(await memory.getAccount(who, src.blocks[19]!.header))
      const err = await expectRejectsTyped(chain.getAccount(who, src.blocks[10]!.header), StatePrunedError, 'ERR_CHAIN_STATE_PRUNED')
      expect(err.number).toBe(11n)
      expect(err.message).toContain('last 5 blocks')
      // Blocks and receipts are not pruned.
      expect(await chain.getReceipts([src.blocks[0]!.hash()])).toEqual([src.receipts[0]])
    })
  })

  it('writes one batch per block that becomes the head', async () => {
    const dir = tempDir('chainstore-batches')
    try {
      const kv = new FailingKvStore(await LevelKvStore.open(dir.path, { dataDir: dir.path }), () => new Error('unused'))
      const s = await openStoredChain(dir.path, common(), { kv })
      const before = kv.batches
      await s.chain.putBlocks(src.blocks.slice(0, 6))
      expect(kv.batches - before).toBe(6)
      // Blocks already stored write nothing.
      await s.chain.putBlocks(src.blocks.slice(0, 6))
      expect(kv.batches - before).toBe(6)
      await s.close()
    } finally {
      dir.remove()
    }
  })

  it('a block that fails is not kept and the chain stays usable', async () => {
    await withStore('chainstore-bad', async (_dir, open) => {
      const { chain, store } = await open()
      await chain.putBlocks(src.blocks.slice(0, 3))
      // Block 5 on block 3's chain: rejected (unknown parent), nothing of it is stored.
      await expectRejectsTyped(chain.putBlocks([src.blocks[4]!]), ChainError, 'ERR_CHAIN_INVALID_BLOCK')
      expect(chain.headers.height).toBe(3n)
      expect(store.head.number).toBe(3n)
      expect(await chain.putBlocks(src.blocks.slice(3, 6))).toBe(3)
    })
  })

  it('close() during a long putBlocks ends it after the block under way; what it put is written', async () => {
    await withStore('chainstore-close', async (_dir, open) => {
      let s = await open()
      let heads = 0
      const put = s.chain.putBlocks(src.blocks)
      // Close once the first block is the head (a write per head move).
      await new Promise<void>((resolve) => {
        const batch = s.store.kv.batch.bind(s.store.kv)
        s.store.kv.batch = async (ops) => {
          await batch(ops)
          if (++heads === 1) resolve()
        }
      })
      await s.chain.close()
      await expectRejectsTyped(put, ChainError, 'ERR_CHAIN_CLOSED')
      const height = s.chain.headers.height
      expect(height).toBeGreaterThan(0n)
      expect(height).toBeLessThan(24n)
      await s.close()
      s = await open()
      expect(s.chain.headers.height).toBe(height)
    })
  })

  it('opens a store of another chain as ERR_CHAIN_GENESIS_MISMATCH', async () => {
    await withStore('chainstore-genesis', async (_dir, open) => {
      const { store } = await open()
      await expectRejectsTyped(Chain.create({ common: Common.custom({ chainId: 1234, name: 'other', gasLimit: 50_000_000n }), store }), ChainError, 'ERR_CHAIN_GENESIS_MISMATCH')
    })
  })
})

describe('Chain on a ChainStore: reorgs', () => {
  let fork: ForkedChains
  let deep: ForkedChains
  beforeAll(async () => {
    fork = await buildForkedChains({ common: common(), shared: 6, branches: [3, 5], txsPerBlock: 2 })
    // Branch 0 runs 12 blocks above the fork point, branch 1 (longer) 14.
    deep = await buildForkedChains({ common: common(), shared: 2, branches: [12, 14], txsPerBlock: 1 })
  }, 120_000)

  it('switches to a longer fork; the canonical index, head and state are the new branch after a restart', async () => {
    await withStore('chainstore-reorg', async (_dir, open) => {
      const [a, b] = fork.branches
      let s = await open()
      await s.chain.putBlocks([...fork.shared, ...a!.blocks])
      await s.chain.putBlocks(b!.blocks)
      expect(hex(s.chain.headers.latest)).toBe(hex(b!.blocks[4]!))
      await s.close()
      s = await open()
      expect(hex(s.chain.headers.latest)).toBe(hex(b!.blocks[4]!))
      for (let n = 7; n <= 11; n++) expect(bytesToHex((await s.chain.canonicalHash(BigInt(n)))!)).toBe(hex(b!.blocks[n - 7]!))
      // The replaced branch stays stored, with its receipts.
      expect(await s.chain.getReceipts([a!.blocks[2]!.hash()])).toEqual([a!.receipts[2]])
    })
  })

  it('a shorter fork is written but does not move the head, also after a restart', async () => {
    await withStore('chainstore-short-fork', async (_dir, open) => {
      const [a, b] = fork.branches
      let s = await open()
      await s.chain.putBlocks([...fork.shared, ...b!.blocks])
      await s.chain.putBlocks(a!.blocks)
      expect(hex(s.chain.headers.latest)).toBe(hex(b!.blocks[4]!))
      await s.close()
      s = await open()
      expect(hex(s.chain.headers.latest)).toBe(hex(b!.blocks[4]!))
      expect(bytesToHex((await s.chain.canonicalHash(9n))!)).toBe(hex(b!.blocks[2]!))
      expect(await s.chain.hasBlock(a!.blocks[2]!.hash())).toBe(true)
    })
  })

  it('a fork from below the kept states is StatePrunedError, not an invalid block; within them it is followed', async () => {
    await withStore('chainstore-deep-fork', async (_dir, open) => {
      const [a, b] = deep.branches
      // Head #14 on branch 0 keeping 8 states (#7..#14); branch 1 forks at #2.
      const { chain } = await open(8)
      await chain.putBlocks([...deep.shared, ...a!.blocks])
      expect(chain.headers.height).toBe(14n)
      const err = await expectRejectsTyped(chain.putBlocks(b!.blocks), StatePrunedError, 'ERR_CHAIN_STATE_PRUNED')
      expect(err.number).toBe(2n)
      expect(hex(chain.headers.latest)).toBe(hex(a!.blocks[11]!))
      expect(await chain.hasBlock(b!.blocks[0]!.hash())).toBe(false)
    })
    await withStore('chainstore-fork-in-window', async (_dir, open) => {
      const [a, b] = deep.branches
      // The same fork with 16 states kept (#0..#14 all there): followed, executed on the shared state.
      const { chain } = await open(16)
      await chain.putBlocks([...deep.shared, ...a!.blocks])
      await chain.putBlocks(b!.blocks)
      expect(hex(chain.headers.latest)).toBe(hex(b!.blocks[13]!))
    })
  })
})

describe('ChainStore without a Chain', () => {
  it('opens an empty database at genesis, writing it once', async () => {
    const dir = tempDir('chainstore-genesis-only')
    try {
      const kv = new FailingKvStore(await LevelKvStore.open(dir.path, { dataDir: dir.path }), () => new Error('unused'))
      let store = await ChainStore.open({ kv, common: common() })
      expect(kv.batches).toBe(1)
      await store.close()
      store = await ChainStore.open({ kv: await LevelKvStore.open(dir.path, { dataDir: dir.path }), common: common() })
      expect(store.head.number).toBe(0n)
      await store.close()
    } finally {
      dir.remove()
    }
  })
})
