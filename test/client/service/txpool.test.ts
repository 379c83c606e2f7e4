import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx'
import { bytesToHex, createAddressFromString } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { TEST_ACCOUNT_BALANCE, testAccounts } from '../../../src/chain-config'
import { Chain, ServiceError, TxPool, TxRejectedError } from '../../../src/client'
import { makeTestTx } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { ChainUpdate } from '../../../src/client/blockchain/chain'

const common = testCommon()
const tx = (i: number, c = common) => makeTestTx(c, { kind: '1559-transfer', from: testAccounts[i % 4], nonce: BigInt(i), seed: 'txpool', index: i })
const hex = (txs: { hash(): Uint8Array }[]) => txs.map((t) => bytesToHex(t.hash()))
const TO = '0x00000000000000000000000000000000000000aa'

/** A signed EIP-1559 transfer from test account `from` with the given nonce and fees (gwei). */
function transfer(from: number, nonce: bigint, opts: { fee?: bigint; tip?: bigint; value?: bigint; gasLimit?: bigint } = {}): TypedTransaction {
  const gwei = 1_000_000_000n
  return createFeeMarket1559Tx(
    { nonce, to: TO, value: opts.value ?? 1n, gasLimit: opts.gasLimit ?? 21_000n, maxFeePerGas: (opts.fee ?? 10n) * gwei, maxPriorityFeePerGas: (opts.tip ?? 1n) * gwei },
    { common },
  ).sign(testAccounts[from]!.privateKey, false)
}

async function rejection(p: Promise<unknown>): Promise<TxRejectedError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(TxRejectedError)
  return err as TxRejectedError
}

describe('TxPool without a chain (wire-level checks only)', () => {
  it('holds signed transactions by hash and answers in request order, skipping unknown ones', async () => {
    const pool = new TxPool({ common, maxSize: 10 })
    const [a, b] = [tx(1), tx(2)]
    const added: string[] = []
    pool.on('added', (t) => added.push(bytesToHex(t.hash())))
    expect(await pool.add(a)).toBe(true)
    expect(await pool.add(b)).toBe(true)
    expect(await pool.add(a)).toBe(false)
    expect(pool.size).toBe(2)
    expect(added).toEqual(hex([a, b]))
    expect(hex(pool.getByHash([b.hash(), new Uint8Array(32), a.hash()]))).toEqual(hex([b, a]))
    pool.removeByHash([a.hash()])
    expect(pool.has(a.hash())).toBe(false)
    expect(pool.has(b.hash())).toBe(true)
  })

  it('evicts the oldest transaction beyond maxSize', async () => {
    const pool = new TxPool({ common, maxSize: 2 })
    const txs = [tx(1), tx(2), tx(3)]
    for (const t of txs) await pool.add(t)
    expect(pool.size).toBe(2)
    expect(pool.has(txs[0].hash())).toBe(false)
    expect(hex(pool.getByHash(txs.map((t) => t.hash())))).toEqual(hex(txs.slice(1)))
  })

  it('refuses unsigned transactions and transactions of another chain', async () => {
    const pool = new TxPool({ common, maxSize: 2 })
    const unsigned = createFeeMarket1559Tx({ nonce: 0n, gasLimit: 21000n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n }, { common })
    await expect(pool.add(unsigned)).rejects.toThrow(ServiceError)
    await expect(pool.add(tx(1, testCommon(999)))).rejects.toThrow(/chain 999/)
    expect(pool.size).toBe(0)
  })

  it('refuses a gas limit below the intrinsic gas', async () => {
    const pool = new TxPool({ common, maxSize: 2 })
    const err = await rejection(pool.add(transfer(0, 0n, { gasLimit: 20_999n })))
    expect(err.reason).toBe('invalid')
    expect(err.message).toMatch(/intrinsic gas 21000/)
  })
})

describe('TxPool over a chain', () => {
  const chains: Chain[] = []
  afterEach(async () => {
    for (const c of chains.splice(0)) await c.close()
  })

  async function poolOnChain(maxSize = 100): Promise<{ pool: TxPool; chain: Chain }> {
    const chain = await Chain.create({ common })
    chains.push(chain)
    const pool = new TxPool({ common, maxSize, chain })
    chain.events.on('updated', (u: ChainUpdate) => void pool.onHead(u))
    return { pool, chain }
  }

  const coinbase = createAddressFromString('0x0000000000000000000000000000000000000de0')
  const timestamp = (chain: Chain): bigint => chain.headers.latest.timestamp + 12n

  it('refuses a nonce below the account nonce and a cost above the balance, never for the relay', async () => {
    const { pool, chain } = await poolOnChain()
    await pool.add(transfer(0, 0n))
    await chain.buildBlock(await pool.pending(), { timestamp: timestamp(chain), coinbase })
    // Account 0's nonce is 1 now: a second transaction with nonce 0 is stale.
    expect((await rejection(pool.add(transfer(0, 0n, { tip: 2n })))).reason).toBe('nonce-too-low')
    const broke = await rejection(pool.add(transfer(1, 0n, { value: TEST_ACCOUNT_BALANCE })))
    expect(broke.reason).toBe('insufficient-funds')
    // Two that fit alone but not together: the second counts the first's cost.
    const half = TEST_ACCOUNT_BALANCE / 2n
    expect(await pool.add(transfer(2, 0n, { value: half }))).toBe(true)
    expect((await rejection(pool.add(transfer(2, 1n, { value: half })))).reason).toBe('insufficient-funds')
  })

  it('replaces a transaction only for a 10 % higher fee cap and tip', async () => {
    const { pool } = await poolOnChain()
    const first = transfer(0, 0n, { fee: 10n, tip: 1n })
    await pool.add(first)
    expect((await rejection(pool.add(transfer(0, 0n, { fee: 10n, tip: 2n })))).reason).toBe('underpriced')
    const bumped = transfer(0, 0n, { fee: 11n, tip: 2n })
    expect(await pool.add(bumped)).toBe(true)
    expect(pool.has(first.hash())).toBe(false)
    expect(hex(pool.all())).toEqual(hex([bumped]))
  })

  it('hands out runs of consecutive nonces from the account nonce, best-paying sender first', async () => {
    const { pool } = await poolOnChain()
    const cheap = [transfer(0, 0n, { tip: 1n }), transfer(0, 1n, { tip: 1n })]
    const rich = [transfer(1, 1n, { tip: 5n }), transfer(1, 0n, { tip: 3n })]
    const gapped = transfer(2, 5n, { tip: 9n }) // nonce 5 with the account at 0: not executable
    for (const t of [...cheap, ...rich, gapped]) await pool.add(t)
    expect(hex(await pool.pending())).toEqual(hex([rich[1]!, rich[0]!, ...cheap]))
  })

  it('when full, evicts the lowest-paying last nonce, and refuses what pays less than everything held', async () => {
    const { pool } = await poolOnChain(3)
    const a0 = transfer(0, 0n, { tip: 2n })
    const a1 = transfer(0, 1n, { tip: 2n })
    const b0 = transfer(1, 0n, { tip: 3n })
    for (const t of [a0, a1, b0]) await pool.add(t)
    expect((await rejection(pool.add(transfer(2, 0n, { tip: 1n })))).reason).toBe('underpriced')
    const better = transfer(2, 0n, { tip: 4n })
    expect(await pool.add(better)).toBe(true)
    // a1 (account 0's last nonce, paying least) went; a0 stays, so account 0 has no gap.
    expect(new Set(hex(pool.all()))).toEqual(new Set(hex([a0, b0, better])))
  })

  it('drops what a new head includes, and what a head makes stale', async () => {
    const { pool, chain } = await poolOnChain()
    const included = transfer(0, 0n)
    await pool.add(included)
    await pool.add(transfer(0, 1n))
    // Another node's block used account 1's nonce 0 with another transaction.
    const competing = transfer(1, 0n, { tip: 2n })
    await pool.add(transfer(1, 0n, { tip: 1n, value: 7n }))
    const built = await chain.buildBlock([included, competing], { timestamp: timestamp(chain), coinbase })
    expect(hex(built.included)).toEqual(hex([included, competing]))
    await pool.onHead({ added: [], removed: [] }) // waits for the update the head event queued
    expect(pool.size).toBe(1)
    expect(pool.all()[0]!.nonce).toBe(1n)
    expect(pool.all()[0]!.getSenderAddress().toString()).toBe(testAccounts[0]!.address.toString())
  })

  it('takes back the transactions of blocks a reorg removed', async () => {
    const { pool, chain } = await poolOnChain()
    const t = transfer(3, 0n)
    const block = (await chain.buildBlock([t], { timestamp: timestamp(chain), coinbase })).block
    await pool.onHead({ added: [], removed: [block] })
    // Still included at the head: the state says nonce 1, so it is stale and stays out.
    expect(pool.has(t.hash())).toBe(false)
    const fresh = await poolOnChain()
    await fresh.pool.onHead({ added: [], removed: [block] })
    expect(fresh.pool.has(t.hash())).toBe(true)
  })

  it('caps one sender at MAX_TXS_PER_SENDER transactions', async () => {
    const { pool } = await poolOnChain()
    const { MAX_TXS_PER_SENDER } = await import('../../../src/client/service/txpool')
    for (let n = 0; n < MAX_TXS_PER_SENDER; n++) await pool.add(transfer(4, BigInt(n)))
    expect((await rejection(pool.add(transfer(4, BigInt(MAX_TXS_PER_SENDER))))).reason).toBe('sender-limit')
    // A legacy transaction of another sender still gets in.
    const legacy = createLegacyTx({ nonce: 0n, to: TO, value: 1n, gasLimit: 21_000n, gasPrice: 10_000_000_000n }, { common }).sign(testAccounts[5]!.privateKey, false)
    expect(await pool.add(legacy)).toBe(true)
  })
})
