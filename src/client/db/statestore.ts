import { type BatchDBOp, type DB, KECCAK256_RLP, bytesToUnprefixedHex, equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { LruMap } from '../../p2p/util/lru'
import { StorageError } from './errors'
import { CODE_PREFIX, NODE_PREFIX, REFCOUNT_PREFIX, STATE_ROOT_PREFIX } from './keys'
import { prefixRange, prefixed, readUint64Key, uint64Key } from './kvstore'
import { nodeRefs } from './trierefs'

import type { StagedWrites } from './staged'

const log = debug('client:db:state')

/**
 * States kept: those of the blocks numbered head-127..head. Serving state (snap, GetNodeData)
 * and re-executing a reorganised chain both need recent states; 128 is what geth keeps in
 * its hash-based scheme and what snap serving assumes.
 */
export const DEFAULT_STATE_HISTORY = 128

/**
 * Stored trie nodes kept decoded in memory. A trie read on a miss costs a LevelDB lookup;
 * the top levels of the account trie are read by every transaction. Nodes are ~100-500 bytes:
 * 65,536 of them hold about 20 MiB.
 */
export const STATE_NODE_CACHE_SIZE = 65_536

const EMPTY_ROOT_HEX = bytesToUnprefixedHex(KECCAK256_RLP)
/** A node key as @ethereumjs/mpt passes it: 32 bytes in hex. A code key: 'c' (0x63) and 32 bytes. */
const NODE_KEY_HEX_LENGTH = 64
const CODE_KEY_HEX_LENGTH = 66

/** One block's state kept by the store. */
export interface RetainedState {
  number: bigint
  hash: Uint8Array
  root: Uint8Array
}

export interface StateNodeStoreOptions {
  /** States kept, by block number below the head. Default DEFAULT_STATE_HISTORY (128). */
  history?: number
}

/** What one commitState or prune changed. */
export interface StateChange {
  /** Nodes written (commitState) or deleted (prune). */
  nodes: number
  /** States added or released. */
  states: number
}

/**
 * The state tries' node store on disk, as the `db` of @ethereumjs/mpt (keys in hex, values as
 * bytes), with reference-counted pruning.
 *
 * The trie writes every node it creates while a block executes, including nodes that later
 * transactions of the same block replace and nodes of reverted calls. Those writes wait here;
 * `commitState` stages only the nodes reachable from the block's state root that are not
 * stored yet, so nothing transient reaches the disk.
 *
 * Every stored node carries a reference count: one per stored node that refers to it (branch
 * and extension children, an account leaf's storage root) and one per retained state whose
 * root it is. Nodes are keyed by hash and shared between states, accounts and positions (two
 * contracts with equal storage share a storage trie); counting references, not owners, makes
 * that safe. `prune` releases the states older than the history window: their roots lose a
 * reference, and a node whose count reaches zero is deleted and releases its own children.
 * What is pruned is thus exactly the nodes no retained state reaches. Contract code is never
 * pruned (it is shared by every account with that code, and small next to the tries).
 */
export class StateNodeStore implements DB<string, Uint8Array> {
  readonly history: number
  private readonly staged: StagedWrites
  private readonly pending = new Map<string, Uint8Array>()
  private readonly cache = new LruMap<string, Uint8Array>(STATE_NODE_CACHE_SIZE)
  /** Retained states, by ascending block number. */
  private states: RetainedState[]

  private constructor(staged: StagedWrites, history: number, states: RetainedState[]) {
    this.staged = staged
    this.history = history
    this.states = states
  }

  /** Opens the node store of a database; the retained states are read from it. */
  static async open(staged: StagedWrites, opts: StateNodeStoreOptions = {}): Promise<StateNodeStore> {
    const history = opts.history ?? DEFAULT_STATE_HISTORY
    if (!Number.isInteger(history) || history < 1) throw new RangeError(`state history must be a positive integer, got ${history}`)
    const states: RetainedState[] = []
    for await (const [key, root] of staged.kv.range(prefixRange(STATE_ROOT_PREFIX))) {
      states.push({ number: readUint64Key(key, 1), hash: key.slice(9), root })
    }
    return new StateNodeStore(staged, history, states)
  }

  /** The states kept, oldest first. */
  get retained(): readonly RetainedState[] {
    return this.states
  }

  /** Whether the state with this root is stored (the empty state always is). */
  hasState(root: Uint8Array): boolean {
    const hex = bytesToUnprefixedHex(root)
    return hex === EMPTY_ROOT_HEX || this.refcount(hex) > 0
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const waiting = this.pending.get(key)
    if (waiting !== undefined) return waiting
    if (key.length === NODE_KEY_HEX_LENGTH) return this.storedNode(key)
    if (key.length === CODE_KEY_HEX_LENGTH) return this.staged.get(unprefixedHexToBytes(key))
    throw unexpectedKey(key)
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    if (key.length !== NODE_KEY_HEX_LENGTH && key.length !== CODE_KEY_HEX_LENGTH) throw unexpectedKey(key)
    this.pending.set(key, value)
  }

  /** Forgets a write not committed yet; what is stored goes only when pruning finds it unreferenced. */
  async del(key: string): Promise<void> {
    this.pending.delete(key)
  }

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') await this.put(op.key, op.value)
      else await this.del(op.key)
    }
  }

  /** The same store: the account trie's storage tries share it. */
  shallowCopy(): DB<string, Uint8Array> {
    return this
  }

  async open(): Promise<void> {}

  /**
   * Stages the state of block `state.hash` (root `state.root`): its new nodes, a reference
   * for its root and its entry among the retained states; drops every other pending write.
   * Staging the same block twice adds nothing.
   */
  commitState(state: RetainedState): StateChange {
    if (this.states.some((s) => equalsBytes(s.hash, state.hash))) {
      this.pending.clear()
      return { nodes: 0, states: 0 }
    }
    const nodes = this.addReference(bytesToUnprefixedHex(state.root))
    this.pending.clear()
    this.staged.put(stateKey(state.number, state.hash), state.root)
    const at = this.states.findIndex((s) => s.number > state.number)
    this.states.splice(at < 0 ? this.states.length : at, 0, { ...state })
    return { nodes, states: 1 }
  }

  /** Releases the states of blocks numbered `head - history` and below, and the nodes only they reached. */
  prune(head: bigint): StateChange {
    const change: StateChange = { nodes: 0, states: 0 }
    const keepFrom = head - BigInt(this.history) + 1n
    while (this.states.length > 0 && this.states[0]!.number < keepFrom) {
      const state = this.states.shift()!
      this.staged.del(stateKey(state.number, state.hash))
      change.nodes += this.releaseReference(bytesToUnprefixedHex(state.root))
      change.states++
    }
    if (change.states > 0) log('pruned %d states, %d nodes (keeping from block %d)', change.states, change.nodes, keepFrom)
    return change
  }

  /** Drops the writes of an execution that is not committed (a failed block). */
  discard(): void {
    this.pending.clear()
  }

  /** Forgets cached nodes: staged nodes that a failed flush did not write must not be served. */
  invalidate(): void {
    this.cache.clear()
  }

  /** One more reference to node `rootHex`; a node not stored yet is staged with its children. Returns the nodes staged. */
  private addReference(rootHex: string): number {
    let added = 0
    const stack = [rootHex]
    while (stack.length > 0) {
      const hex = stack.pop()!
      if (hex === EMPTY_ROOT_HEX) continue
      const count = this.refcount(hex)
      if (count > 0) {
        this.setRefcount(hex, count + 1)
        continue
      }
      const node = this.pending.get(hex)
      if (node === undefined) throw new StorageError('ERR_STORAGE_CORRUPT', this.staged.kv.location, `state node ${hex} is referenced but neither stored nor written by the block`)
      this.staged.put(nodeKey(hex), node)
      this.cache.set(hex, node)
      this.setRefcount(hex, 1)
      added++
      const refs = nodeRefs(node)
      for (const child of refs.nodes) stack.push(bytesToUnprefixedHex(child))
      if (refs.code !== undefined) this.stageCode(refs.code)
    }
    return added
  }

  /** One reference less to node `rootHex`; a node left without any is deleted and releases its children. Returns the nodes deleted. */
  private releaseReference(rootHex: string): number {
    let deleted = 0
    const stack = [rootHex]
    while (stack.length > 0) {
      const hex = stack.pop()!
      if (hex === EMPTY_ROOT_HEX) continue
      const count = this.refcount(hex)
      if (count === 0) throw new StorageError('ERR_STORAGE_CORRUPT', this.staged.kv.location, `state node ${hex} is referenced but not stored`)
      if (count > 1) {
        this.setRefcount(hex, count - 1)
        continue
      }
      const node = this.storedNode(hex)
      if (node === undefined) throw new StorageError('ERR_STORAGE_CORRUPT', this.staged.kv.location, `state node ${hex} has references but no data`)
      this.setRefcount(hex, 0)
      this.staged.del(nodeKey(hex))
      this.cache.delete(hex)
      deleted++
      for (const child of nodeRefs(node).nodes) stack.push(bytesToUnprefixedHex(child))
    }
    return deleted
  }

  private stageCode(codeHash: Uint8Array): void {
    const key = prefixed(CODE_PREFIX, codeHash)
    const code = this.pending.get(bytesToUnprefixedHex(key))
    if (code !== undefined) this.staged.put(key, code)
  }

  private storedNode(hex: string): Uint8Array | undefined {
    const cached = this.cache.get(hex)
    if (cached !== undefined) return cached
    const node = this.staged.get(nodeKey(hex))
    if (node !== undefined) this.cache.set(hex, node)
    return node
  }

  private refcount(hex: string): number {
    const stored = this.staged.get(refcountKey(hex))
    if (stored === undefined) return 0
    if (stored.length !== 4) throw new StorageError('ERR_STORAGE_CORRUPT', this.staged.kv.location, `reference count of state node ${hex} is ${stored.length} bytes, not 4`)
    return new DataView(stored.buffer, stored.byteOffset, 4).getUint32(0)
  }

  private setRefcount(hex: string, count: number): void {
    if (count === 0) {
      this.staged.del(refcountKey(hex))
      return
    }
    const bytes = new Uint8Array(4)
    new DataView(bytes.buffer).setUint32(0, count)
    this.staged.put(refcountKey(hex), bytes)
  }
}

function nodeKey(hex: string): Uint8Array {
  return prefixed(NODE_PREFIX, unprefixedHexToBytes(hex))
}

function refcountKey(hex: string): Uint8Array {
  return prefixed(REFCOUNT_PREFIX, unprefixedHexToBytes(hex))
}

function stateKey(number: bigint, hash: Uint8Array): Uint8Array {
  return prefixed(STATE_ROOT_PREFIX, prefixed(uint64Key(number), hash))
}

function unexpectedKey(key: string): Error {
  return new TypeError(`StateNodeStore: key ${key.slice(0, 80)} is neither a trie node hash nor a code key (was the trie created with a key prefix or root persistence?)`)
}

