import type { Block } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, createAddressFromString, equalsBytes } from '@ethereumjs/util'
import { type VM, buildBlock, createVM, encodeReceipt } from '@ethereumjs/vm'

import { GENESIS_STATE_ROOT, createGenesisBlock, genesisState } from '../../chain-config'
import { ChainError, InvalidBlockError } from '../blockchain/errors'

/** Seconds between test blocks (mainnet's slot time); timestamps are fixed so hashes are reproducible. */
export const TEST_BLOCK_TIME = 12n

/** Fee recipient of every test block: a fixed address no test key controls. */
export const TEST_COINBASE = '0x00000000000000000000000000000000000fee00'

/** A produced block together with its consensus-encoded receipts (one per transaction). */
export interface ProducedBlock {
  block: Block
  receipts: Uint8Array[]
}

/**
 * Produces consecutive blocks on top of a custom chain's genesis by executing transactions
 * in @ethereumjs/vm's block builder, so every root and receipt is the real one.
 * Nonces are tracked per sender so callers only say who sends what.
 */
export class BlockProducer {
  readonly common: Common
  readonly genesis: Block
  private readonly vm: VM
  private parent: Block
  private readonly nonces = new Map<string, bigint>()
  private failed = false

  private constructor(common: Common, vm: VM, genesis: Block) {
    this.common = common
    this.vm = vm
    this.genesis = genesis
    this.parent = genesis
  }

  static async create(common: Common): Promise<BlockProducer> {
    // The VM switches hardforks on its Common as it runs blocks: give it its own copy.
    const vmCommon = common.copy()
    const vm = await createVM({ common: vmCommon })
    await vm.stateManager.generateCanonicalGenesis!(genesisState)
    const root = await vm.stateManager.getStateRoot()
    if (!equalsBytes(root, GENESIS_STATE_ROOT)) {
      throw new ChainError('ERR_CHAIN_GENESIS_MISMATCH', `genesis allocation has state root ${bytesToHex(root)}, config says ${bytesToHex(GENESIS_STATE_ROOT)}`)
    }
    return new BlockProducer(common, vm, createGenesisBlock(common))
  }

  /** The block the next `produce` builds on. */
  get head(): Block {
    return this.parent
  }

  /** Next unused nonce of `sender` (hex address); callers sign with it, so it is consumed. */
  takeNonce(sender: string): bigint {
    const key = sender.toLowerCase()
    const nonce = this.nonces.get(key) ?? 0n
    this.nonces.set(key, nonce + 1n)
    return nonce
  }

  /**
   * Builds the next block with `txs` (in order). A transaction the VM rejects aborts the
   * block, and the producer with it (nonces were already handed out): test chains must
   * contain exactly what the caller asked for.
   */
  async produce(txs: readonly TypedTransaction[]): Promise<ProducedBlock> {
    if (this.failed) throw new InvalidBlockError('block producer is unusable after a rejected transaction')
    const number = this.parent.header.number + 1n
    const builder = await buildBlock(this.vm, {
      parentBlock: this.parent,
      headerData: {
        number,
        timestamp: this.parent.header.timestamp + TEST_BLOCK_TIME,
        coinbase: createAddressFromString(TEST_COINBASE),
        gasLimit: this.parent.header.gasLimit,
      },
      // The VM has no blockchain of its own here (our contract never reads BLOCKHASH).
      blockOpts: { putBlockIntoBlockchain: false },
    })
    const receipts: Uint8Array[] = []
    try {
      for (const tx of txs) {
        const result = await builder.addTransaction(tx)
        receipts.push(encodeReceipt(result.receipt, tx.type))
      }
    } catch (err) {
      this.failed = true
      await builder.revert()
      throw new InvalidBlockError(`block ${number}: transaction rejected: ${(err as Error).message}`, { cause: err })
    }
    const { block } = await builder.build()
    this.parent = block
    return { block, receipts }
  }
}
