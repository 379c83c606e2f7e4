import type { Block, BlockHeader } from '@ethereumjs/block'
import { type Blockchain, createBlockchain } from '@ethereumjs/blockchain'
import type { Common } from '@ethereumjs/common'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { ValueEncoding, bigIntToBytes, bytesToBigInt, bytesToHex, equalsBytes, utf8ToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { createGenesisBlock } from '../../chain-config'
import { ChainState } from '../blockchain/state'
import { ConfigError } from '../errors'
import { StorageError } from './errors'
import { EthjsDb } from './ethjs'
import { BLOCKCHAIN_PREFIX, META_PREFIX, RECEIPTS_PREFIX } from './keys'
import { prefixed } from './kvstore'
import { StagedWrites } from './staged'
import { StateNodeStore } from './statestore'

import type { ChainRecords } from '../blockchain/records'
import type { KvStore } from './kvstore'

const log = debug('client:db:chain')

/** Version of the key layout (keys.ts); a database of another version is refused, not misread. */
export const SCHEMA_VERSION = 1

const META_VERSION = prefixed(META_PREFIX, utf8ToBytes('version'))
const META_GENESIS = prefixed(META_PREFIX, utf8ToBytes('genesis'))
const META_HEAD = prefixed(META_PREFIX, utf8ToBytes('head'))
const META_CHAIN_ID = prefixed(META_PREFIX, utf8ToBytes('chainId'))

export interface ChainStoreOptions {
  kv: KvStore
  /** The chain the database must hold (its genesis is checked). */
  common: Common
  /** States kept below the head. Default DEFAULT_STATE_HISTORY (128). */
  stateHistory?: number
}

/**
 * A chain's persistent records in one KvStore: @ethereumjs/blockchain (blocks, total
 * difficulties, the canonical index, its head) over the store, the world state's trie nodes
 * and code (StateNodeStore, pruned to the last `stateHistory` blocks), receipts, and the head
 * whose state is complete. Everything a block changes is staged and written by `flush()` in
 * one atomic batch, so the database always opens at a head whose state is present. A Chain
 * runs on it (`Chain.create({ common, store })`) as on its ChainRecords.
 *
 * Opening a database that holds a chain opens the state trie at the head's state root: the
 * state is not rebuilt by re-executing blocks. Opening checks that the head's state is
 * stored; a database whose records disagree is reported as ERR_STORAGE_CORRUPT.
 */
export class ChainStore implements ChainRecords {
  readonly kv: KvStore
  readonly blockchain: Blockchain
  readonly state: ChainState
  readonly nodes: StateNodeStore
  private readonly staged: StagedWrites
  private headHeader: BlockHeader
  /** The error of a failed flush: staged records and in-memory caches are then ahead of the disk. */
  private failure?: StorageError

  private constructor(kv: KvStore, staged: StagedWrites, blockchain: Blockchain, nodes: StateNodeStore, state: ChainState, head: BlockHeader) {
    this.kv = kv
    this.staged = staged
    this.blockchain = blockchain
    this.nodes = nodes
    this.state = state
    this.headHeader = head
  }

  /** Opens the chain in `kv`, writing its genesis (block and state) first if the store is empty. */
  static async open(opts: ChainStoreOptions): Promise<ChainStore> {
    const { kv, common } = opts
    const staged = new StagedWrites(kv)
    const genesis = createGenesisBlock(common)
    checkMeta(kv, genesis, common.chainId())
    const nodes = await StateNodeStore.open(staged, { history: opts.stateHistory })
    let blockchain: Blockchain
    try {
      blockchain = await createBlockchain({ common, genesisBlock: genesis, db: new EthjsDb(staged, BLOCKCHAIN_PREFIX), validateBlocks: true, validateConsensus: true })
    } catch (err) {
      if (err instanceof StorageError) throw err
      throw new StorageError('ERR_STORAGE_CORRUPT', kv.location, `the chain records cannot be read: ${(err as Error).message}`, { cause: err })
    }
    const headHash = kv.get(META_HEAD)
    if (headHash === undefined) return ChainStore.initialise(kv, staged, blockchain, nodes, genesis, common)
    const head = await blockchain.getCanonicalHeadHeader()
    if (!equalsBytes(head.hash(), headHash)) {
      throw new StorageError('ERR_STORAGE_CORRUPT', kv.location, `the head record (${bytesToHex(headHash)}) is not the chain's head (block ${head.number} ${bytesToHex(head.hash())})`)
    }
    if (!nodes.hasState(head.stateRoot)) {
      throw new StorageError('ERR_STORAGE_CORRUPT', kv.location, `the state of head block ${head.number} (root ${bytesToHex(head.stateRoot)}) is not stored`)
    }
    const trie = new MerklePatriciaTrie({ db: nodes, root: head.stateRoot, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, common })
    const state = await ChainState.create({ common, blockchain, genesisStateRoot: genesis.header.stateRoot, trie })
    log('opened at block %d (%d states kept)', head.number, nodes.retained.length)
    return new ChainStore(kv, staged, blockchain, nodes, state, head)
  }

  private static async initialise(kv: KvStore, staged: StagedWrites, blockchain: Blockchain, nodes: StateNodeStore, genesis: Block, common: Common): Promise<ChainStore> {
    const trie = new MerklePatriciaTrie({ db: nodes, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, common })
    // Writes the genesis allocation into `nodes` and checks its root against the genesis header.
    const state = await ChainState.create({ common, blockchain, genesisStateRoot: genesis.header.stateRoot, trie })
    const store = new ChainStore(kv, staged, blockchain, nodes, state, genesis.header)
    staged.put(META_VERSION, Uint8Array.of(SCHEMA_VERSION))
    staged.put(META_GENESIS, genesis.hash())
    staged.put(META_CHAIN_ID, bigIntToBytes(common.chainId()))
    store.stageBlock(genesis, [])
    // The store starts at genesis: its head record is written here, not staged as a head move.
    staged.put(META_HEAD, genesis.hash())
    await store.flush()
    log('initialised at genesis %s', bytesToHex(genesis.hash()))
    return store
  }

  /** The head whose state is stored, as of the last flush (or staged since). */
  get head(): BlockHeader {
    return this.headHeader
  }

  get stateHistory(): number {
    return this.nodes.history
  }

  hasState(root: Uint8Array): boolean {
    return this.nodes.hasState(root)
  }

  /** The receipts of a stored block, or undefined. */
  receipts(hash: Uint8Array): Uint8Array[] | undefined {
    const stored = this.staged.get(prefixed(RECEIPTS_PREFIX, hash))
    return stored === undefined ? undefined : (RLP.decode(stored) as Uint8Array[])
  }

  /**
   * Stages an executed block: its receipts, the state execution left in the trie (whose root
   * must be the header's) and, as the head, the chain's canonical head; then prunes states
   * that fell out of the history window. The block itself was staged by blockchain.putBlock.
   */
  stageBlock(block: Block, receipts: readonly Uint8Array[]): void {
    this.ensureUsable()
    const { header } = block
    this.staged.put(prefixed(RECEIPTS_PREFIX, block.hash()), RLP.encode(receipts as Uint8Array[]))
    this.nodes.commitState({ number: header.number, hash: block.hash(), root: header.stateRoot })
  }

  /**
   * Stages `head` as the head whose state is complete, and prunes the states that fell out of
   * the window below it. Staging the head already staged adds nothing.
   */
  stageHead(head: BlockHeader): void {
    this.ensureUsable()
    if (equalsBytes(head.hash(), this.headHeader.hash())) return
    if (!this.nodes.hasState(head.stateRoot)) throw new StorageError('ERR_STORAGE_CORRUPT', this.kv.location, `head block ${head.number} has no state staged or stored`)
    this.staged.put(META_HEAD, head.hash())
    this.nodes.prune(head.number)
    this.headHeader = head
  }

  /** Drops the state written by an execution that failed (the block is not kept). */
  discardState(): void {
    this.nodes.discard()
  }

  /**
   * Writes everything staged in one atomic batch. On failure nothing of it is on disk, and the
   * in-memory view (the blockchain's caches, the head) is ahead of the disk: the store refuses
   * further writes with the same error, and reopening it gives the last flushed head.
   */
  async flush(): Promise<void> {
    this.ensureUsable()
    try {
      await this.staged.flush()
    } catch (err) {
      this.nodes.invalidate()
      this.failure = err instanceof StorageError ? err : new StorageError('ERR_STORAGE_IO', this.kv.location, `write failed: ${(err as Error).message}`, { cause: err })
      throw this.failure
    }
  }

  /** Closes the database; staged and unflushed records are dropped. Idempotent. */
  async close(): Promise<void> {
    this.staged.discard()
    await this.kv.close()
  }

  private ensureUsable(): void {
    if (this.failure !== undefined) throw this.failure
  }
}

/** Refuses a database of another schema version or another chain before anything reads it. */
function checkMeta(kv: KvStore, genesis: Block, chainId: bigint): void {
  const version = kv.get(META_VERSION)
  if (version !== undefined && (version.length !== 1 || version[0] !== SCHEMA_VERSION)) {
    throw new StorageError('ERR_STORAGE_CORRUPT', kv.location, `the database has layout version ${bytesToHex(version)}, this node reads version ${SCHEMA_VERSION}`)
  }
  const stored = kv.get(META_GENESIS)
  if (stored !== undefined && !equalsBytes(stored, genesis.hash())) {
    throw new ConfigError('dataDir', `${kv.location} holds another chain (genesis ${bytesToHex(stored)}), this node runs genesis ${bytesToHex(genesis.hash())}`)
  }
  const storedId = kv.get(META_CHAIN_ID)
  if (storedId !== undefined && bytesToBigInt(storedId) !== chainId) {
    throw new ConfigError('dataDir', `${kv.location} holds another chain (chain id ${bytesToBigInt(storedId)}), this node runs chain id ${chainId}`)
  }
}
