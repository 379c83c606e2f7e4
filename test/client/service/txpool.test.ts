import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { testAccounts } from '../../../src/chain-config'
import { ServiceError, TxPool } from '../../../src/client'
import { makeTestTx } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'

const common = testCommon()
const tx = (i: number, c = common) => makeTestTx(c, { kind: '1559-transfer', from: testAccounts[i % 4], nonce: BigInt(i), seed: 'txpool', index: i })
const hex = (txs: { hash(): Uint8Array }[]) => txs.map((t) => bytesToHex(t.hash()))

describe('TxPool', () => {
  it('holds signed transactions by hash and answers in request order, skipping unknown ones', () => {
    const pool = new TxPool({ common, maxSize: 10 })
    const [a, b] = [tx(1), tx(2)]
    const added: string[] = []
    pool.on('added', (t) => added.push(bytesToHex(t.hash())))
    expect(pool.add(a)).toBe(true)
    expect(pool.add(b)).toBe(true)
    expect(pool.add(a)).toBe(false)
    expect(pool.size).toBe(2)
    expect(added).toEqual(hex([a, b]))
    expect(hex(pool.getByHash([b.hash(), new Uint8Array(32), a.hash()]))).toEqual(hex([b, a]))
    pool.removeByHash([a.hash()])
    expect(pool.has(a.hash())).toBe(false)
    expect(pool.has(b.hash())).toBe(true)
  })

  it('evicts the oldest transaction beyond maxSize', () => {
    const pool = new TxPool({ common, maxSize: 2 })
    const txs = [tx(1), tx(2), tx(3)]
    for (const t of txs) pool.add(t)
    expect(pool.size).toBe(2)
    expect(pool.has(txs[0].hash())).toBe(false)
    expect(hex(pool.getByHash(txs.map((t) => t.hash())))).toEqual(hex(txs.slice(1)))
  })

  it('refuses unsigned transactions and transactions of another chain', () => {
    const pool = new TxPool({ common, maxSize: 2 })
    const unsigned = createFeeMarket1559Tx({ nonce: 0n, gasLimit: 21000n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n }, { common })
    expect(() => pool.add(unsigned)).toThrow(ServiceError)
    expect(() => pool.add(tx(1, testCommon(999)))).toThrow(/chain 999/)
    expect(pool.size).toBe(0)
  })
})
