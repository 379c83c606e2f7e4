import type { Block } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'

import { ChainError } from '../blockchain/errors'

import type { ChainStore } from './chainstore'

export interface ImportOptions {
  /** Blocks per atomic batch. Default 1: every block is on disk when the next one starts. */
  blocksPerBatch?: number
}

/**
 * Appends blocks to a ChainStore the way Chain.putBlocks does in memory: each block is
 * validated and stored by @ethereumjs/blockchain, executed on its parent's state, and its
 * receipts, new state and the head are staged; one batch per `blocksPerBatch` blocks goes to
 * disk. Blocks already stored are skipped. A block that fails is not kept (the blocks before
 * it are) and throws ERR_CHAIN_INVALID_BLOCK. Returns how many blocks were new.
 */
export async function importBlocks(store: ChainStore, blocks: readonly Block[], opts: ImportOptions = {}): Promise<number> {
  const perBatch = opts.blocksPerBatch ?? 1
  let added = 0
  let unflushed = 0
  for (const block of blocks) {
    if (await isStored(store, block)) continue
    await putAndExecute(store, block)
    store.stageHead(await store.blockchain.getCanonicalHeadHeader())
    added++
    if (++unflushed >= perBatch) {
      await store.flush()
      unflushed = 0
    }
  }
  if (unflushed > 0) await store.flush()
  return added
}

async function putAndExecute(store: ChainStore, block: Block): Promise<void> {
  const { blockchain } = store
  try {
    await blockchain.putBlock(block)
  } catch (err) {
    throw new ChainError('ERR_CHAIN_INVALID_BLOCK', `block ${block.header.number} ${bytesToHex(block.hash())} rejected: ${(err as Error).message}`, { cause: err })
  }
  const parent = await blockchain.getBlock(block.header.parentHash)
  let receipts: Uint8Array[]
  try {
    receipts = await store.state.execute(block, parent.header.stateRoot)
  } catch (err) {
    store.discardState()
    await blockchain.delBlock(block.hash())
    await store.flush()
    throw err
  }
  store.stageBlock(block, receipts)
}

async function isStored(store: ChainStore, block: Block): Promise<boolean> {
  try {
    await store.blockchain.dbManager.hashToNumber(block.hash())
    return true
  } catch (err) {
    if (err instanceof Error && err.message.includes('not found in DB')) return false
    throw err
  }
}
