import { buildBlock } from '@ethereumjs/vm'

import type { Block } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import type { VM } from '@ethereumjs/vm'

/** What a built block holds besides its parent's choices. */
export interface BlockTemplate {
  /** Seconds since the epoch; must exceed the parent's. */
  timestamp: bigint
  /** Fee recipient. */
  coinbase: Address
}

/** A transaction the builder left out, and why (the VM's reason). */
export interface SkippedTx {
  tx: TypedTransaction
  reason: string
}

export interface BuiltBlock {
  block: Block
  /** The transactions in the block, in block order. */
  included: TypedTransaction[]
  skipped: SkippedTx[]
}

/**
 * Builds a block on `parent` by executing `txs` in the given order with @ethereumjs/vm's block
 * builder, as a miner does: a transaction the VM refuses (nonce, balance, fee below the base
 * fee, no gas left in the block) is left out, and with it every later transaction of the same
 * sender, whose nonces could no longer follow. The state the block produces is committed to
 * the VM's state database; nothing is stored in a blockchain.
 */
export async function buildOn(vm: VM, parent: Block, txs: readonly TypedTransaction[], template: BlockTemplate): Promise<BuiltBlock> {
  await vm.stateManager.setStateRoot(parent.header.stateRoot)
  const builder = await buildBlock(vm, {
    parentBlock: parent,
    headerData: { number: parent.header.number + 1n, timestamp: template.timestamp, coinbase: template.coinbase, gasLimit: parent.header.gasLimit },
    blockOpts: { putBlockIntoBlockchain: false },
  })
  const included: TypedTransaction[] = []
  const skipped: SkippedTx[] = []
  const stuck = new Set<string>()
  for (const tx of txs) {
    const sender = tx.getSenderAddress().toString()
    if (stuck.has(sender)) {
      skipped.push({ tx, reason: 'an earlier transaction of its sender was left out' })
      continue
    }
    try {
      await builder.addTransaction(tx)
      included.push(tx)
    } catch (err) {
      // runTx reverts its own changes on failure; the block goes on without this transaction.
      stuck.add(sender)
      skipped.push({ tx, reason: (err as Error).message })
    }
  }
  const { block } = await builder.build()
  return { block, included, skipped }
}
