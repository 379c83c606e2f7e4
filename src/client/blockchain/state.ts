import { CODEHASH_PREFIX, MerkleStateManager } from '@ethereumjs/statemanager'
import { bytesToHex, concatBytes, equalsBytes } from '@ethereumjs/util'
import { type VM, createVM, encodeReceipt, runBlock } from '@ethereumjs/vm'

import { genesisState } from '../../chain-config'
import { ChainError } from './errors'

import type { Block } from '@ethereumjs/block'
import type { MerklePatriciaTrie } from '@ethereumjs/mpt'
import type { Account, Address } from '@ethereumjs/util'
import type { Blockchain } from '@ethereumjs/blockchain'
import type { Common } from '@ethereumjs/common'

/**
 * The state database, readable by hash. A MerkleStateManager keeps every
 * trie node (account and storage tries share one node store, keyed by the
 * node's keccak hash) and contract code (keyed by code hash behind a prefix);
 * this subclass reads them back for GetNodeData. Nothing is pruned, so the
 * state at every executed block stays servable.
 */
class ServingStateManager extends MerkleStateManager {
  /** The trie node or the contract code whose keccak-256 hash is `hash`, if stored. */
  async nodeData(hash: Uint8Array): Promise<Uint8Array | undefined> {
    const db = this._trie.database()
    return (await db.get(hash)) ?? (await db.get(concatBytes(CODEHASH_PREFIX, hash)))
  }
}

export interface ChainStateOptions {
  common: Common
  /** The chain's blocks: BLOCKHASH reads them. */
  blockchain: Blockchain
  /** State root the genesis header commits to; the allocation must produce it. */
  genesisStateRoot: Uint8Array
  /**
   * The state trie to execute on. Default: a new in-memory trie. A trie that already holds a
   * state (a persistent one, opened at the head's root) is used as it is, without genesis.
   */
  trie?: MerklePatriciaTrie
}

/**
 * The world state of a Chain: every block is executed by @ethereumjs/vm on
 * its parent's state, and must reproduce its header's state root, receipts
 * root, gas used and logs bloom. The node then holds real state and real
 * receipts for every block it serves, and can answer eth/66 GetNodeData with
 * the trie nodes and contract code it executed into being.
 */
export class ChainState {
  private readonly vm: VM
  private readonly db: ServingStateManager

  private constructor(vm: VM, db: ServingStateManager) {
    this.vm = vm
    this.db = db
  }

  static async create(opts: ChainStateOptions): Promise<ChainState> {
    // The VM moves its Common along the hardforks it executes: it gets its own copy.
    const common = opts.common.copy()
    const db = new ServingStateManager({ common, trie: opts.trie })
    const vm = await createVM({ common, stateManager: db, blockchain: opts.blockchain })
    if (opts.trie !== undefined && !equalsBytes(opts.trie.root(), opts.trie.EMPTY_TRIE_ROOT)) return new ChainState(vm, db)
    await db.generateCanonicalGenesis(genesisState)
    const root = await db.getStateRoot()
    if (!equalsBytes(root, opts.genesisStateRoot)) {
      throw new ChainError('ERR_CHAIN_GENESIS_MISMATCH', `genesis allocation has state root ${bytesToHex(root)}, the genesis header says ${bytesToHex(opts.genesisStateRoot)}`)
    }
    return new ChainState(vm, db)
  }

  /**
   * Executes `block` on the state at `parentStateRoot`; resolves with its
   * consensus-encoded receipts. Throws ERR_CHAIN_INVALID_BLOCK when execution
   * fails or does not reproduce the header's roots, gas used or bloom.
   */
  async execute(block: Block, parentStateRoot: Uint8Array): Promise<Uint8Array[]> {
    try {
      // Header and body rules were checked when the block was stored.
      const result = await runBlock(this.vm, { block, root: parentStateRoot, skipHeaderValidation: true, skipBlockValidation: true })
      return result.receipts.map((receipt, i) => encodeReceipt(receipt, block.transactions[i]!.type))
    } catch (err) {
      throw new ChainError('ERR_CHAIN_INVALID_BLOCK', `block ${block.header.number} ${bytesToHex(block.hash())} failed execution: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * The account `address` in the state `stateRoot` commits to (that of any block executed
   * here: nothing is pruned), or undefined when it has none. Reads a copy sharing the node
   * store, so a block executing meanwhile is not disturbed.
   */
  async account(address: Address, stateRoot: Uint8Array): Promise<Account | undefined> {
    const view = this.db.shallowCopy(false)
    await view.setStateRoot(stateRoot)
    return view.getAccount(address)
  }

  /** The trie node or contract code with keccak-256 hash `hash`, or undefined when this node never held it. */
  nodeData(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.db.nodeData(hash)
  }
}
