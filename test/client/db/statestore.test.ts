import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { Account, Address, ValueEncoding, bytesToUnprefixedHex, setLengthLeft } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { afterEach, describe, expect, it } from 'vitest'

import { NODE_PREFIX, REFCOUNT_PREFIX } from '../../../src/client/db/keys'
import { type KvStore, prefixRange } from '../../../src/client/db/kvstore'
import { LevelKvStore } from '../../../src/client/db/level'
import { StagedWrites } from '../../../src/client/db/staged'
import { StateNodeStore } from '../../../src/client/db/statestore'
import { nodeRefs } from '../../../src/client/db/trierefs'
import { tempDir } from '../../utils/disk'
import { prng } from '../../utils/prng'

const address = (i: number): Address => new Address(setLengthLeft(Uint8Array.of(1, i), 20))
const slot = (i: number): Uint8Array => setLengthLeft(Uint8Array.of(i), 32)

async function storedNodes(kv: KvStore): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const [key, value] of kv.range(prefixRange(NODE_PREFIX))) out.set(bytesToUnprefixedHex(key.subarray(1)), value)
  return out
}

async function storedRefcounts(kv: KvStore): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for await (const [key, value] of kv.range(prefixRange(REFCOUNT_PREFIX))) out.set(bytesToUnprefixedHex(key.subarray(1)), new DataView(value.buffer, value.byteOffset).getUint32(0))
  return out
}

/** Every node reachable from `roots` (with hash checks), and how many references each has from stored nodes and roots. */
function expectedStore(nodes: Map<string, Uint8Array>, roots: Uint8Array[]): { reachable: Set<string>; refs: Map<string, number> } {
  const reachable = new Set<string>()
  const refs = new Map<string, number>()
  const bump = (hex: string): void => void refs.set(hex, (refs.get(hex) ?? 0) + 1)
  const visit = (hex: string): void => {
    if (reachable.has(hex)) return
    const node = nodes.get(hex)
    if (node === undefined) throw new Error(`node ${hex} is reachable from a retained state but not stored`)
    expect(bytesToUnprefixedHex(keccak_256(node))).toBe(hex)
    reachable.add(hex)
    for (const child of nodeRefs(node).nodes) {
      const c = bytesToUnprefixedHex(child)
      bump(c)
      visit(c)
    }
  }
  for (const root of roots) {
    const hex = bytesToUnprefixedHex(root)
    bump(hex)
    visit(hex)
  }
  return { reachable, refs }
}

describe('StateNodeStore: reference-counted pruning', () => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
  })

  async function setup(history: number) {
    const dir = tempDir('state')
    cleanups.push(dir.remove)
    const kv = await LevelKvStore.open(dir.path, { dataDir: dir.path })
    cleanups.push(() => kv.close())
    const staged = new StagedWrites(kv)
    const store = await StateNodeStore.open(staged, { history })
    const trie = new MerklePatriciaTrie({ db: store, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes })
    const sm = new MerkleStateManager({ trie })
    return { kv, staged, store, sm, dir: dir.path }
  }

  it('keeps exactly the nodes the retained states reach, with exact reference counts, over 40 random blocks', async () => {
    const history = 4
    const { kv, staged, store, sm } = await setup(history)
    const rand = prng(15)
    const balances = new Map<number, bigint>()
    for (let number = 0n; number < 40n; number++) {
      await sm.checkpoint()
      for (let k = 0; k < 6; k++) {
        const who = Math.floor(rand() * 12)
        const balance = BigInt(Math.floor(rand() * 1000))
        await sm.putAccount(address(who), new Account(0n, balance))
        balances.set(who, balance)
      }
      // Contracts 100 and 101 often get equal storage: their storage tries then share every node.
      for (let k = 0; k < 3; k++) {
        const s = slot(Math.floor(rand() * 6))
        const value = rand() < 0.3 ? new Uint8Array() : Uint8Array.of(1 + Math.floor(rand() * 3))
        for (const contract of rand() < 0.5 ? [100, 101] : [100 + Math.floor(rand() * 2)]) {
          if ((await sm.getAccount(address(contract))) === undefined) await sm.putAccount(address(contract), new Account(0n, 1n))
          await sm.putStorage(address(contract), s, value)
        }
      }
      if (number === 3n) await sm.putCode(address(100), Uint8Array.of(0x60, 0x00, 0x60, 0x00))
      await sm.commit()
      const root = await sm.getStateRoot()
      store.commitState({ number, hash: keccak_256(Uint8Array.of(Number(number))), root })
      store.prune(number)
      await staged.flush()

      const retained = store.retained
      expect(retained.map((s) => s.number)).toEqual(Array.from({ length: Math.min(history, Number(number) + 1) }, (_, i) => number - BigInt(Math.min(history, Number(number) + 1) - 1 - i)))
      const nodes = await storedNodes(kv)
      const { reachable, refs } = expectedStore(nodes, retained.map((s) => s.root))
      expect(new Set(nodes.keys())).toEqual(reachable)
      expect(await storedRefcounts(kv)).toEqual(refs)
    }
    for (const [who, balance] of balances) expect((await sm.getAccount(address(who)))?.balance).toBe(balance)
    expect(await sm.getCode(address(100))).toEqual(Uint8Array.of(0x60, 0x00, 0x60, 0x00))
  })

  it('writes no node that the committed root does not reach (intermediate and reverted writes)', async () => {
    const { kv, staged, store, sm } = await setup(8)
    await sm.checkpoint()
    for (let i = 0; i < 20; i++) await sm.putAccount(address(i), new Account(0n, BigInt(i)))
    await sm.commit()
    await sm.checkpoint()
    await sm.putAccount(address(50), new Account(0n, 50n)) // reverted below
    await sm.revert()
    const root = await sm.getStateRoot()
    const written = (store as unknown as { pending: Map<string, Uint8Array> }).pending.size
    const change = store.commitState({ number: 0n, hash: keccak_256(Uint8Array.of(0)), root })
    await staged.flush()
    const nodes = await storedNodes(kv)
    expect(change.nodes).toBe(nodes.size)
    expect(written).toBeGreaterThan(nodes.size)
    expect(new Set(nodes.keys())).toEqual(expectedStore(nodes, [root]).reachable)
  })

  it('reopens with its retained states, and keeps pruning from there', async () => {
    const { kv, staged, store, sm } = await setup(2)
    for (let n = 0n; n < 3n; n++) {
      await sm.checkpoint()
      await sm.putAccount(address(1), new Account(0n, n + 1n))
      await sm.commit()
      store.commitState({ number: n, hash: keccak_256(Uint8Array.of(Number(n))), root: await sm.getStateRoot() })
      store.prune(n)
      await staged.flush()
    }
    const reopened = await StateNodeStore.open(new StagedWrites(kv), { history: 2 })
    expect(reopened.retained.map((s) => s.number)).toEqual([1n, 2n])
    expect(reopened.hasState(store.retained[1]!.root)).toBe(true)
    expect(reopened.hasState(keccak_256(Uint8Array.of(9)))).toBe(false)
  })
})
