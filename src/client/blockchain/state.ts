import { CODEHASH_PREFIX, MerkleStateManager } from '@ethereumjs/statemanager'
import { bytesToHex, concatBytes, equalsBytes } from '@ethereumjs/util'
import { type VM, createVM, encodeReceipt, runBlock } from '@ethereumjs/vm'

import { genesisState } from '../../chain-config'
import { type BlockTemplate, type BuiltBlock, buildOn } from './builder'
import { ChainError, InvalidBlockError } from './errors'

import type { Block } from '@ethereumjs/block'
import type { MerklePatriciaTrie } from '@ethereumjs/mpt'
import type { Blockchain } from '@ethereumjs/blockchain'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'

/** What the transaction pool needs to know of an account. */
export interface AccountInfo {
  nonce: bigint
  balance: bigint
}

/**
 * The state database, readable by hash. A MerkleStateManager keeps every
 * trie node (account and storage tries share one node store, keyed by the
 * node's keccak hash) and contract code (keyed by code hash behind a prefix);
 * this subclass reads them back for GetNodeData. In memory nothing is pruned;
 * on a dataDir's node store the states of the last blocks are kept (see
 * src/client/db/statestore.ts).
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
  /**
   * A second view of the same node store for account reads (the pool's checks): execution
   * moves the VM's state root, so reads never go through it. One read at a time, so a read
   * at one root cannot see another read move the view.
   */
  private readonly reader: MerkleStateManager
  private readerRoot?: Uint8Array
  private reads: Promise<unknown> = Promise.resolve()

  private constructor(vm: VM, db: ServingStateManager) {
    this.vm = vm
    this.db = db
    this.reader = db.shallowCopy(false)
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
      throw new InvalidBlockError(`block ${block.header.number} ${bytesToHex(block.hash())} failed execution: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Builds a block on `parent` from `txs` (see buildOn); the caller stores it. Must not run
   * while a block executes: both move the VM's state root (Chain runs both in its put queue).
   */
  build(parent: Block, txs: readonly TypedTransaction[], template: BlockTemplate): Promise<BuiltBlock> {
    return buildOn(this.vm, parent, txs, template)
  }

  /** Nonce and balance of `address` in the state with root `stateRoot` (zero for an absent account). */
  account(stateRoot: Uint8Array, address: Address): Promise<AccountInfo> {
    const read = this.reads.then(async () => {
      if (this.readerRoot === undefined || !equalsBytes(this.readerRoot, stateRoot)) {
        await this.reader.setStateRoot(stateRoot)
        this.readerRoot = stateRoot
      }
      const account = await this.reader.getAccount(address)
      return { nonce: account?.nonce ?? 0n, balance: account?.balance ?? 0n }
    })
    this.reads = read.catch(() => undefined)
    return read
  }

  /** The trie node or contract code with keccak-256 hash `hash`, or undefined when this node never held it. */
  nodeData(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.db.nodeData(hash)
  }
}
