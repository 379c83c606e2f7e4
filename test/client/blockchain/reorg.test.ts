import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Common, testAccounts } from '../../../src/chain-config'
import { Chain, type ChainUpdate } from '../../../src/client/blockchain/chain'
import { type ForkedChains, buildForkedChains } from '../../../src/client/testing/testchain'

const common = Common.custom({ chainId: 1234, name: 'testnet' })
const hex = (b: { hash(): Uint8Array }): string => bytesToHex(b.hash())

describe('Chain fork choice', () => {
  let fork: ForkedChains
  const chains: Chain[] = []

  beforeAll(async () => {
    // Shared 6 blocks, then a 3-block branch A and a 5-block branch B.
    fork = await buildForkedChains({ common, shared: 6, branches: [3, 5], txsPerBlock: 2 })
  }, 60_000)

  afterEach(async () => {
    for (const c of chains.splice(0)) await c.close()
  })

  async function chainOnA(): Promise<{ chain: Chain; updates: ChainUpdate[] }> {
    const chain = await Chain.create({ common })
    chains.push(chain)
    const [a] = fork.branches
    await chain.putBlocks([...fork.shared, ...a!.blocks], [...fork.sharedReceipts, ...a!.receipts])
    const updates: ChainUpdate[] = []
    chain.events.on('updated', (u) => updates.push(u))
    return { chain, updates }
  }

  it('switches to a longer fork: the blocks above the ancestor are replaced, with their state', async () => {
    const { chain, updates } = await chainOnA()
    const [a, b] = fork.branches
    expect(chain.headers.height).toBe(9n)
    // Every transaction of the test chains comes from a test account: their nonces add up to the count.
    const sentNonces = async (): Promise<bigint> => {
      let n = 0n
      for (const acc of testAccounts) n += (await chain.getAccount(acc.address)).nonce
      return n
    }
    expect(await sentNonces()).toBe(BigInt((6 + 3) * 2))
    await chain.putBlocks(b!.blocks, b!.receipts)
    expect(chain.headers.height).toBe(11n)
    expect(hex(chain.headers.latest)).toBe(hex(b!.blocks[4]!))
    for (let n = 7; n <= 11; n++) expect(bytesToHex((await chain.canonicalHash(BigInt(n)))!)).toBe(hex(b!.blocks[n - 7]!))
    expect(bytesToHex((await chain.canonicalHash(6n))!)).toBe(hex(fork.shared[5]!))
    // One head move, naming what entered and left the canonical chain.
    expect(updates).toHaveLength(1)
    expect(updates[0]!.added.map(hex)).toEqual(b!.blocks.map(hex))
    expect(updates[0]!.removed.map(hex)).toEqual(a!.blocks.map(hex))
    // The head's state is B's: (6 + 5) blocks of 2 transactions.
    expect(await sentNonces()).toBe(BigInt((6 + 5) * 2))
    // The replaced blocks stay stored (and served by hash).
    expect(await chain.hasBlock(a!.blocks[2]!.hash())).toBe(true)
  })

  it('keeps its head for a fork of equal length, and for a shorter one', async () => {
    const { chain, updates } = await chainOnA()
    const [a, b] = fork.branches
    await chain.putBlocks(b!.blocks.slice(0, 3), b!.receipts.slice(0, 3))
    expect(hex(chain.headers.latest)).toBe(hex(a!.blocks[2]!))
    await chain.putBlocks(b!.blocks.slice(3, 4), b!.receipts.slice(3, 4))
    // B's fourth block makes B longer (#10 > #9): only now does the head move.
    expect(hex(chain.headers.latest)).toBe(hex(b!.blocks[3]!))
    expect(updates).toHaveLength(1)
    expect(updates[0]!.removed).toHaveLength(3)
    for (let n = 7; n <= 9; n++) expect(bytesToHex((await chain.canonicalHash(BigInt(n)))!)).toBe(hex(b!.blocks[n - 7]!))
  })

  it('ends a fork import that fails midway on the longer of the two chains', async () => {
    const { chain } = await chainOnA()
    const [a, b] = fork.branches
    // B's blocks 7, 8 and then block 10 (its parent, 9, missing): rejected, and B (#8) is shorter than A.
    await expect(chain.putBlocks([b!.blocks[0]!, b!.blocks[1]!, b!.blocks[3]!])).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_BLOCK' })
    expect(hex(chain.headers.latest)).toBe(hex(a!.blocks[2]!))
    expect(bytesToHex((await chain.canonicalHash(8n))!)).toBe(hex(a!.blocks[1]!))
  })

  it('builds a block on its head from transactions, leaving out those the VM refuses', async () => {
    const { chain, updates } = await chainOnA()
    const { createFeeMarket1559Tx } = await import('@ethereumjs/tx')
    const { createAddressFromString } = await import('@ethereumjs/util')
    const account = testAccounts[7]!
    const nonce = (await chain.getAccount(account.address)).nonce
    const mk = (n: bigint) =>
      createFeeMarket1559Tx({ nonce: n, to: '0x00000000000000000000000000000000000000aa', value: 1n, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n }, { common }).sign(account.privateKey, false)
    const good = mk(nonce)
    const wrongNonce = mk(nonce + 5n)
    const built = await chain.buildBlock([good, wrongNonce], { timestamp: chain.headers.latest.timestamp + 1n, coinbase: createAddressFromString('0x0000000000000000000000000000000000000de0') })
    expect(built.included.map(hex)).toEqual([hex(good)])
    expect(built.skipped.map((s) => hex(s.tx))).toEqual([hex(wrongNonce)])
    expect(chain.headers.height).toBe(10n)
    expect(hex(chain.headers.latest)).toBe(hex(built.block))
    expect(updates.at(-1)!.added.map(hex)).toEqual([hex(built.block)])
    expect((await chain.getAccount(account.address)).nonce).toBe(nonce + 1n)
  })
})
