import { EventEmitter } from 'node:events'

import type { Block, BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import { type Blockchain, createBlockchain } from '@ethereumjs/blockchain'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import debug from 'debug'

import { createGenesisBlock } from '../../chain-config'
import { BlockIndex } from './blockindex'
import { ChainError, InvalidBlockError, StatePrunedError } from './errors'
import { type HeadDiff, headDiff, replacesHead } from './forkchoice'
import { type ChainRecords, MemoryRecords } from './records'
import { MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_NODE_DATA_SERVE, MAX_RECEIPTS_SERVE, SOFT_RESPONSE_LIMIT, clampCount, collectReply, unknownBlock } from './serve'
import { type AccountInfo, ChainState } from './state'
import { checkReceiptLists } from './verify'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import type { BlockTemplate, BuiltBlock } from './builder'

const log = debug('client:chain')

export { HEADER_CACHE_SIZE } from './blockindex'
export { MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_NODE_DATA_SERVE, MAX_RECEIPTS_SERVE, SOFT_RESPONSE_LIMIT }

/**
 * Listeners of a chain's events: each client on the chain adds two (its bus bridge and its
 * service), and one stored chain may serve several clients in one process (tests, benches).
 */
export const CHAIN_MAX_LISTENERS = 100

export interface ChainOptions {
  /** A chain made by `Common.custom`; its genesis comes from chain-config. */
  common: Common
  /**
   * The persistent chain to run on (a dataDir's ChainStore, opened for the same chain): its
   * blockchain, state, receipts and head. Default: a new chain in memory, at genesis. The
   * store's owner closes it, after the chain.
   */
  store?: PersistentChain
}

/** What Chain needs of a persistent store (src/client/db/chainstore.ts's ChainStore). */
export interface PersistentChain extends ChainRecords {
  readonly blockchain: Blockchain
  readonly state: ChainState
}

export interface ResponseLimitOptions {
  /** Soft byte budget of the reply; SOFT_RESPONSE_LIMIT by default. */
  softLimitBytes?: number
}

/** Head of the chain: number, total difficulty (0 on a chain that is PoS from genesis), header. */
export interface ChainHead {
  height: bigint
  td: bigint
  latest: BlockHeader
}

/** The head moved: where it is now, where it was, and the blocks that entered and left the canonical chain. */
export interface ChainUpdate extends HeadDiff {
  head: ChainHead
  previous: ChainHead
}

export interface ChainEvents {
  /** The head moved, whatever moved it (an import, a reorg, a block built here). */
  updated: [update: ChainUpdate]
  /**
   * A write to the chain's store failed (a full disk, an I/O error): the chain refuses every
   * further call with this error, and its head stays the last one written. Emitted once.
   */
  failed: [error: Error]
}

/**
 * The client's chain: blocks kept by @ethereumjs/blockchain, the world state they produce
 * (ChainState), and their receipts (ChainRecords), in memory or in a dataDir's store. It
 * serves headers, bodies, receipts and state (trie nodes and contract code by hash) as the
 * eth protocol asks for them.
 *
 * Blocks are validated on put by @ethereumjs/blockchain (parent link, number, timestamp, gas
 * limit, base fee, blob gas, requests hash, transaction signatures and roots, uncles) and by
 * @ethereumjs/block's PoS header rules (difficulty 0, zero nonce, no uncles), then executed on
 * their parent's state: the state root, receipts root, gas used and logs bloom must come out
 * as the header says, so nothing served is taken on trust. Receipts are the ones execution
 * produced; receipts given to putBlocks are checked against the headers first.
 *
 * Blocks may fork from any stored block. The head is the longest chain (see forkchoice.ts):
 * after each putBlocks the chain keeps its head unless the blocks put made a longer chain, and
 * then switches to it, the blocks above the common ancestor leaving the canonical chain. Each
 * block runs on its own parent's state root, so switching needs no re-execution of what is
 * stored. In memory every state stays; a store keeps the last `stateHistory` blocks' states,
 * and a block forking below them is refused with StatePrunedError. Every head move is an
 * `updated` event.
 *
 * With a store, a block that becomes the head is written at once, in one batch with its
 * state, receipts, canonical index and the head record; blocks that do not (yet) lead are
 * written with the head the call ends on. So the store always holds a head whose state is
 * there, and a kill loses at most the block being put. A failed write fails the chain
 * (`failed`): the disk keeps the head written last.
 */
export class Chain {
  readonly common: Common
  readonly blockchain: Blockchain
  readonly events = new EventEmitter<ChainEvents>().setMaxListeners(CHAIN_MAX_LISTENERS)
  private readonly state: ChainState
  private readonly records: ChainRecords
  private readonly index: BlockIndex
  private head: ChainHead
  private isOpen = false
  private failure?: Error
  private putQueue: Promise<unknown> = Promise.resolve()

  private constructor(common: Common, blockchain: Blockchain, state: ChainState, records: ChainRecords, head: ChainHead) {
    this.common = common
    this.blockchain = blockchain
    this.state = state
    this.records = records
    this.index = new BlockIndex(blockchain)
    this.head = head
  }

  /** Creates the chain, already open: in memory at its genesis, or on `store` at the store's head. */
  static async create(opts: ChainOptions): Promise<Chain> {
    const common = opts.common
    const genesisBlock = createGenesisBlock(common)
    const { store } = opts
    if (store !== undefined) {
      if (!equalsBytes(store.blockchain.genesisBlock.hash(), genesisBlock.hash())) {
        throw new ChainError('ERR_CHAIN_GENESIS_MISMATCH', `the store holds genesis ${bytesToHex(store.blockchain.genesisBlock.hash())}, this chain's is ${bytesToHex(genesisBlock.hash())}`)
      }
      const chain = new Chain(common, store.blockchain, store.state, store, { height: 0n, td: 0n, latest: genesisBlock.header })
      await chain.open()
      return chain
    }
    const blockchain = await createBlockchain({
      common,
      genesisBlock,
      validateBlocks: true,
      // Selects CasperConsensus, which has nothing to check here: on a PoS chain the beacon
      // chain vouches for blocks. The EL-side PoS header rules are enforced by @ethereumjs/block.
      validateConsensus: true,
    })
    // Checks that the genesis allocation produces the state root the genesis header commits to.
    const state = await ChainState.create({ common, blockchain, genesisStateRoot: genesisBlock.header.stateRoot })
    const records = new MemoryRecords()
    records.stageBlock(genesisBlock, [])
    const chain = new Chain(common, blockchain, state, records, { height: 0n, td: genesisBlock.header.difficulty, latest: genesisBlock.header })
    await chain.open()
    return chain
  }

  get genesis(): Block {
    return this.blockchain.genesisBlock
  }

  get opened(): boolean {
    return this.isOpen
  }

  /** States kept below the head (a dataDir's window), or undefined when every state is kept (in memory). */
  get stateHistory(): number | undefined {
    return this.records.stateHistory
  }

  /** The error that failed the chain (a write to its store), if one did. */
  get failed(): Error | undefined {
    return this.failure
  }

  /** Opens the chain (idempotent); the data of an earlier session is kept. */
  async open(): Promise<void> {
    if (this.isOpen) return
    this.ensureUsable()
    this.isOpen = true
    await this.refreshHead()
    log('opened at height %d', this.head.height)
  }

  /**
   * Closes the chain (idempotent): a putBlocks under way stops after the block it is
   * executing (what it put is kept and, with a store, written), then every query throws
   * ERR_CHAIN_CLOSED until open().
   */
  async close(): Promise<void> {
    if (!this.isOpen) return
    this.isOpen = false
    await this.putQueue
    log('closed')
  }

  /** Head of the chain as of the last open()/putBlocks(); also readable while closed. */
  get headers(): ChainHead {
    return this.head
  }

  /**
   * Appends blocks in order, validating and executing each; blocks already stored are skipped.
   * `receipts`, if given, holds each block's consensus-encoded receipts (aligned with `blocks`)
   * and is checked against the headers before any block is stored. Returns how many blocks
   * were new. A block that fails validation or execution throws ERR_CHAIN_INVALID_BLOCK and is
   * not kept; the blocks before it stay.
   */
  async putBlocks(blocks: readonly Block[], receipts?: readonly (readonly Uint8Array[])[]): Promise<number> {
    this.ensureOpen()
    if (receipts !== undefined) checkReceiptLists(blocks, receipts)
    // One putBlocks at a time, so "already stored" checks, receipts and the cached head agree.
    const run = this.putQueue.then(() => this.putInOrder(blocks))
    this.putQueue = run.catch(() => undefined)
    return run
  }

  private async putInOrder(blocks: readonly Block[]): Promise<number> {
    this.ensureUsable()
    const previous = this.head
    const put = new Map<string, Block>()
    try {
      for (const block of blocks) {
        // close() waits for this call: it ends after the block under way.
        if (!this.isOpen) throw new ChainError('ERR_CHAIN_CLOSED', `chain closed while putting blocks (${put.size} put)`)
        if (await this.index.isStored(block.hash())) continue
        this.records.stageBlock(block, await this.putAndExecute(block))
        this.index.remember(block.header)
        put.set(bytesToHex(block.hash()), block)
        // The block leads: @ethereumjs/blockchain made it canonical, and it goes to disk now.
        if (replacesHead(this.head.latest, block.header)) await this.commitHead(block.header)
      }
    } finally {
      // Also after a rejected block: the blocks before it stay, and the head is settled on them.
      await this.settleHead(previous, put)
    }
    if (put.size > 0) log('put %d blocks, head %d', put.size, this.head.height)
    return put.size
  }

  /**
   * Validates and stores `block` (@ethereumjs/blockchain), then executes it on its parent's
   * state; resolves with its receipts. A block that fails either is not kept.
   */
  private async putAndExecute(block: Block): Promise<Uint8Array[]> {
    const rejected = (reason: string, cause?: unknown): ChainError =>
      new InvalidBlockError(`block ${block.header.number} ${bytesToHex(block.hash())} rejected: ${reason}`, { cause })
    const parentNumber = await this.index.numberOf(block.header.parentHash)
    if (parentNumber === undefined) throw rejected(`unknown parent ${bytesToHex(block.header.parentHash)}`)
    const parent = await this.index.storedHeader(block.header.parentHash, parentNumber)
    if (!this.records.hasState(parent.stateRoot)) {
      throw new StatePrunedError(
        `block ${block.header.number} ${bytesToHex(block.hash())} builds on block ${parent.number}, whose state is pruned (the states of the last ${this.records.stateHistory} blocks are kept)`,
        parent.number,
        parent.stateRoot,
      )
    }
    try {
      await this.blockchain.putBlock(block)
    } catch (err) {
      throw rejected((err as Error).message, err)
    }
    try {
      return await this.state.execute(block, parent.stateRoot)
    } catch (err) {
      this.records.discardState()
      await this.blockchain.delBlock(block.hash())
      throw err
    }
  }

  /** Makes `header` the head: staged with its state, written (with a store), then readable as `headers`. */
  private async commitHead(header: BlockHeader): Promise<void> {
    this.records.stageHead(header)
    try {
      await this.records.flush()
    } catch (err) {
      this.fail(err as Error)
      throw err
    }
    this.head = { height: header.number, td: await this.blockchain.getTotalDifficulty(header.hash(), header.number), latest: header }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    log('failed: %s', err.message)
    this.events.emit('failed', err)
  }

  /**
   * Applies the fork choice after blocks were put. @ethereumjs/blockchain makes every block put
   * on a PoS chain canonical; when that left a block other than the chosen head (the longest
   * chain, `this.head`) canonical, the chosen head is put back (it is stored: this only
   * rewrites the canonical index), and the call's remaining writes go out with it. Emits
   * `updated` when the head moved from `previous`.
   */
  private async settleHead(previous: ChainHead, put: ReadonlyMap<string, Block>): Promise<void> {
    // A failed chain leaves its head where the disk has it.
    if (this.failure !== undefined) return
    const chosen = this.head.latest
    const canonical = await this.blockchain.getCanonicalHeadHeader()
    if (!equalsBytes(canonical.hash(), chosen.hash())) await this.blockchain.putBlock(await this.blockchain.getBlock(chosen.hash()))
    await this.commitHead(chosen)
    if (equalsBytes(this.head.latest.hash(), previous.latest.hash())) return
    const lookup = (hash: Uint8Array): Promise<Block> => this.blockchain.getBlock(hash)
    const newHead = put.get(bytesToHex(this.head.latest.hash())) ?? (await lookup(this.head.latest.hash()))
    const diff = await headDiff(await lookup(previous.latest.hash()), newHead, put, lookup)
    if (diff.removed.length > 0) log('reorg: %d blocks replaced above #%d', diff.removed.length, diff.removed[0]!.header.number - 1n)
    this.events.emit('updated', { head: this.head, previous, ...diff })
  }

  /**
   * Builds a block on the head from `txs` (executing them in order, leaving out those the VM
   * refuses, see buildOn) and appends it; resolves once it is the head. Runs in the put
   * queue, so no import moves the head or the VM's state under it.
   */
  async buildBlock(txs: readonly TypedTransaction[], template: BlockTemplate): Promise<BuiltBlock> {
    this.ensureOpen()
    const run = this.putQueue.then(async () => {
      const parent = await this.blockchain.getBlock(this.head.latest.hash())
      const built = await this.state.build(parent, txs, template)
      await this.putInOrder([built.block])
      return built
    })
    this.putQueue = run.catch(() => undefined)
    return run
  }

  /**
   * Nonce and balance of `address` after the block `header` (default: the head); zero for an
   * account that does not exist. In memory every executed block's state is readable; with a
   * store, a block below the kept states throws StatePrunedError.
   */
  async getAccount(address: Address, header: BlockHeader = this.head.latest): Promise<AccountInfo> {
    this.ensureOpen()
    if (!this.records.hasState(header.stateRoot)) {
      throw new StatePrunedError(`the state of block ${header.number} (root ${bytesToHex(header.stateRoot)}) is pruned: the states of the last ${this.records.stateHistory} blocks are kept`, header.number, header.stateRoot)
    }
    return this.state.account(header.stateRoot, address)
  }

  /** Whether the block with this hash is stored, canonical or not. */
  async hasBlock(hash: Uint8Array): Promise<boolean> {
    this.ensureOpen()
    return this.index.isStored(hash)
  }

  /** The hash of the canonical block at `number`, or undefined above the head. */
  async canonicalHash(number: bigint): Promise<Uint8Array | undefined> {
    this.ensureOpen()
    if (number < 0n || number > this.head.height) return undefined
    const hash = await this.blockchain.safeNumberToHash(number)
    return hash === false ? undefined : hash
  }

  /** A stored block by hash, or the canonical block at a number; ERR_CHAIN_UNKNOWN_BLOCK if none. */
  async getBlock(hashOrNumber: Uint8Array | bigint | number): Promise<Block> {
    this.ensureOpen()
    const header = await this.index.findHeader(hashOrNumber)
    if (header === undefined) throw unknownBlock(hashOrNumber)
    return this.blockchain.getBlock(header.hash())
  }

  /**
   * Headers as GetBlockHeaders asks for them: starting at `block` (hash or number), then every
   * (skip+1)-th canonical block, ascending or (`reverse`) descending, at most
   * min(max, MAX_HEADERS_SERVE). Stops at the first block not stored; an unknown origin gives [].
   * A non-canonical origin (a hash off the canonical chain) is returned alone.
   */
  async getHeaders(block: Uint8Array | bigint | number, max: number | bigint, skip: number | bigint, reverse: boolean): Promise<BlockHeader[]> {
    this.ensureOpen()
    const count = Number(clampCount('max', max, MAX_HEADERS_SERVE))
    const step = clampCount('skip', skip, undefined) + 1n
    if (count === 0) return []
    const origin = await this.index.findHeader(block)
    if (origin === undefined) return []
    const headers = [origin]
    if (!(await this.index.isCanonical(origin))) return headers
    let number = origin.number
    while (headers.length < count) {
      number = reverse ? number - step : number + step
      if (number < 0n || number > this.head.height) break
      const header = await this.index.canonicalHeader(number)
      if (header === undefined) break
      headers.push(header)
    }
    return headers
  }

  /**
   * Bodies of the given blocks as [transactions, uncles, withdrawals?] in wire form, in request
   * order, stopping at the first unknown hash, after MAX_BODIES_SERVE bodies, or once the
   * reply has reached `softLimitBytes`.
   */
  async getBodies(hashes: readonly Uint8Array[], opts: ResponseLimitOptions = {}): Promise<BlockBodyBytes[]> {
    this.ensureOpen()
    const budget = { max: MAX_BODIES_SERVE, softLimitBytes: opts.softLimitBytes, onMiss: 'stop' } as const
    return collectReply(hashes, budget, (hash) => this.index.bodyOf(hash), (body) => RLP.encode(body as Uint8Array[][]).length)
  }

  /**
   * Consensus-encoded receipts of the given blocks (as their execution produced them), in
   * request order, stopping at the first unknown block, after MAX_RECEIPTS_SERVE blocks, or at
   * the soft limit. A block without transactions has an empty list.
   */
  async getReceipts(hashes: readonly Uint8Array[], opts: ResponseLimitOptions = {}): Promise<Uint8Array[][]> {
    this.ensureOpen()
    const budget = { max: MAX_RECEIPTS_SERVE, softLimitBytes: opts.softLimitBytes, onMiss: 'stop' } as const
    return collectReply(hashes, budget, async (hash) => this.receiptsOf(hash), (rs) => rs.reduce((n, r) => n + r.length, 0))
  }

  /**
   * State entries by hash as eth/66 GetNodeData asks for them: trie nodes (account and storage
   * tries, of any state the chain holds) and contract code, in request order, skipping hashes
   * this node never held (the protocol's answer for "not available"), after
   * MAX_NODE_DATA_SERVE entries or once the reply has reached `softLimitBytes`.
   */
  async getNodeData(hashes: readonly Uint8Array[], opts: ResponseLimitOptions = {}): Promise<Uint8Array[]> {
    this.ensureOpen()
    const budget = { max: MAX_NODE_DATA_SERVE, softLimitBytes: opts.softLimitBytes, onMiss: 'skip' } as const
    const lookup = async (hash: Uint8Array): Promise<Uint8Array | undefined> =>
      hash instanceof Uint8Array && hash.length === 32 ? this.state.nodeData(hash) : undefined
    return collectReply(hashes, budget, lookup, (data) => data.length)
  }

  /** Total difficulty at a stored block; ERR_CHAIN_UNKNOWN_BLOCK if (hash, number) is not stored. */
  async getTd(hash: Uint8Array, number: bigint): Promise<bigint> {
    this.ensureOpen()
    const stored = await this.index.numberOf(hash)
    if (stored === undefined || stored !== number) throw unknownBlock(hash)
    return this.blockchain.getTotalDifficulty(hash, number)
  }

  private receiptsOf(hash: Uint8Array): Uint8Array[] | undefined {
    return this.records.receipts(hash)
  }

  private async refreshHead(): Promise<void> {
    const latest = await this.blockchain.getCanonicalHeadHeader()
    const td = await this.blockchain.getTotalDifficulty(latest.hash(), latest.number)
    this.head = { height: latest.number, td, latest }
  }

  private ensureOpen(): void {
    this.ensureUsable()
    if (!this.isOpen) throw new ChainError('ERR_CHAIN_CLOSED', 'chain is closed')
  }

  /** A failed chain's records are behind its in-memory view: nothing is read or written any more. */
  private ensureUsable(): void {
    if (this.failure !== undefined) throw this.failure
  }
}
