import { MerkleStateManager } from '@ethereumjs/statemanager'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { ValueEncoding, bytesToHex } from '@ethereumjs/util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { Common, testAccounts } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { ChainError } from '../../../src/client/blockchain/errors'
import { ChainStore } from '../../../src/client/db/chainstore'
import { importBlocks } from '../../../src/client/db/importer'
import { LevelKvStore } from '../../../src/client/db/level'
import { type TestChain, buildTestChain } from '../../../src/client/testing/testchain'
import { expectRejectsTyped } from '../../reliability/table'
import { FailingKvStore, tempDir } from '../../utils/disk'

const common = (): Common => Common.custom({ chainId: 1234, name: 'db-test' })

async function openStore(dir: string, stateHistory?: number): Promise<ChainStore> {
  return ChainStore.open({ kv: await LevelKvStore.open(dir, { dataDir: dir }), common: common(), stateHistory })
}

describe('ChainStore', () => {
  let src: TestChain
  let memory: Chain
  beforeAll(async () => {
    src = await buildTestChain({ common: common(), blocks: 24, txsPerBlock: 3, seed: 'chainstore' })
    memory = await Chain.create({ common: common() })
    await memory.putBlocks(src.blocks)
  })
  afterAll(() => memory.close())

  it('imports, closes, reopens at the same head with its state, receipts and blocks, without re-executing', async () => {
    const dir = tempDir('chainstore')
    try {
      let store = await openStore(dir.path)
      expect(store.head.number).toBe(0n)
      expect(await importBlocks(store, src.blocks.slice(0, 20))).toBe(20)
      await store.close()

      store = await openStore(dir.path)
      const head = store.head
      expect(head.number).toBe(20n)
      expect(bytesToHex(head.hash())).toBe(bytesToHex(src.blocks[19]!.hash()))
      expect(store.nodes.hasState(head.stateRoot)).toBe(true)
      // The stored state at the head root holds the accounts the blocks' transactions changed.
      const sm = new MerkleStateManager({ trie: new MerklePatriciaTrie({ db: store.nodes, root: head.stateRoot, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes }) })
      for (const account of testAccounts.slice(0, 3)) expect((await sm.getAccount(account.address))?.nonce).toBeGreaterThan(0n)
      for (const [i, block] of src.blocks.slice(0, 20).entries()) {
        expect(store.receipts(block.hash())).toEqual(src.receipts[i])
        expect(bytesToHex((await store.blockchain.getBlock(block.header.number)).hash())).toBe(bytesToHex(block.hash()))
      }
      // Executing on from the reopened state reproduces the next blocks' state roots.
      expect(await importBlocks(store, src.blocks)).toBe(4)
      expect(store.head.number).toBe(24n)
      await store.close()
    } finally {
      dir.remove()
    }
  })

  it('keeps the states of the last `stateHistory` blocks and prunes the rest', async () => {
    const dir = tempDir('chainstore-prune')
    try {
      const store = await openStore(dir.path, 5)
      await importBlocks(store, src.blocks)
      expect(store.nodes.retained.map((s) => s.number)).toEqual([20n, 21n, 22n, 23n, 24n])
      expect(store.nodes.hasState(src.blocks[19]!.header.stateRoot)).toBe(true)
      expect(store.nodes.hasState(src.blocks[10]!.header.stateRoot)).toBe(false)
      await store.close()
    } finally {
      dir.remove()
    }
  })

  it('writes one batch per block by default, or one per `blocksPerBatch` blocks', async () => {
    const dir = tempDir('chainstore-batches')
    try {
      const kv = new FailingKvStore(await LevelKvStore.open(dir.path, { dataDir: dir.path }), () => new Error('unused'))
      const store = await ChainStore.open({ kv, common: common() })
      const before = kv.batches
      await importBlocks(store, src.blocks.slice(0, 6))
      expect(kv.batches - before).toBe(6)
      await importBlocks(store, src.blocks.slice(6, 12), { blocksPerBatch: 3 })
      expect(kv.batches - before).toBe(8)
      await store.close()
    } finally {
      dir.remove()
    }
  })

  it('a block that fails execution is not kept and the store stays usable', async () => {
    const dir = tempDir('chainstore-bad')
    try {
      const store = await openStore(dir.path)
      await importBlocks(store, src.blocks.slice(0, 3))
      // Block 5 on block 3's state: rejected (wrong parent), nothing of it is stored.
      await expectRejectsTyped(importBlocks(store, [src.blocks[4]!]), ChainError, 'ERR_CHAIN_INVALID_BLOCK')
      expect(store.head.number).toBe(3n)
      expect(await importBlocks(store, src.blocks.slice(3, 6))).toBe(3)
      await store.close()
    } finally {
      dir.remove()
    }
  })
})
