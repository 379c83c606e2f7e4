import { bytesToHex } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { Common } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { ChainError } from '../../../src/client/blockchain/errors'
import { LARGE_TX_DATA_BYTES, buildLargeBlock, calldataTransferGas, largeBlockGasLimit } from '../../../src/client/testing/largeblock'
import { verifyBody, verifyReceipts } from '../../../src/client/testing/testchain'

const MiB = 1024 * 1024

describe('buildLargeBlock', () => {
  it('builds a > 1 MiB body that a Chain stores and serves intact', async () => {
    const target = 1.5 * MiB
    const large = await buildLargeBlock({ targetBytes: target, count: 2 })
    expect(large.blocks).toHaveLength(2)
    for (const size of large.bodySizes) {
      expect(size).toBeGreaterThanOrEqual(target)
      expect(size).toBeLessThan(target + 64 * 1024)
    }
    const chain = await Chain.create({ common: large.common })
    try {
      expect(await chain.putBlocks(large.blocks, large.receipts)).toBe(2)
      const hashes = large.blocks.map((b) => b.hash())
      // A soft limit below one body still serves one; a large one serves both (> 3 MiB reply).
      expect(await chain.getBodies(hashes, { softLimitBytes: 1 })).toHaveLength(1)
      const bodies = await chain.getBodies(hashes, { softLimitBytes: 8 * MiB })
      expect(bodies).toHaveLength(2)
      bodies.forEach((body, i) => verifyBody(large.blocks[i]!.header, body))
      const receipts = await chain.getReceipts(hashes)
      receipts.forEach((rs, i) => verifyReceipts(large.blocks[i]!.header, rs))
    } finally {
      await chain.close()
    }
  })

  it('is deterministic and fills calldata with distinct chunk counters', async () => {
    const a = await buildLargeBlock({ targetBytes: LARGE_TX_DATA_BYTES + 1000 })
    const b = await buildLargeBlock({ targetBytes: LARGE_TX_DATA_BYTES + 1000 })
    expect(bytesToHex(a.blocks[0]!.hash())).toBe(bytesToHex(b.blocks[0]!.hash()))
    const txs = a.blocks[0]!.transactions
    expect(txs).toHaveLength(2)
    expect(txs[0]!.data).toHaveLength(LARGE_TX_DATA_BYTES)
    const view = new DataView(txs[0]!.data.buffer, txs[0]!.data.byteOffset)
    const counters = new Set<number>()
    for (let off = 60; off + 4 <= txs[0]!.data.length; off += 64) counters.add(view.getUint32(off))
    expect(counters.size).toBe(LARGE_TX_DATA_BYTES / 64)
    expect(a.blocks[0]!.header.gasUsed).toBe(txs.reduce((g, tx) => g + calldataTransferGas(tx.data), 0n))
  })

  it('builds a ~10 MiB body that still fits a 10 MiB message', async () => {
    const target = 10 * MiB - 8 * 1024
    const large = await buildLargeBlock({ targetBytes: target })
    expect(large.bodySizes[0]).toBeGreaterThanOrEqual(target)
    expect(large.bodySizes[0]).toBeLessThan(10 * MiB - 64)
    verifyBody(large.blocks[0]!.header, large.blocks[0]!.raw().slice(1) as never)
    verifyReceipts(large.blocks[0]!.header, large.receipts[0]!)
  })

  it('refuses a chain whose gas limit cannot hold the body, and bad sizes', async () => {
    const small = Common.custom({ chainId: 1234, name: 'testnet' })
    await expect(buildLargeBlock({ targetBytes: 5 * MiB, common: small })).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_ARGUMENT' })
    const roomy = Common.custom({ chainId: 1234, name: 'testnet', gasLimit: largeBlockGasLimit(2 * MiB) })
    const ok = await buildLargeBlock({ targetBytes: 2 * MiB, common: roomy })
    expect(ok.common).toBe(roomy)
    await expect(buildLargeBlock({ targetBytes: 0 })).rejects.toBeInstanceOf(ChainError)
    await expect(buildLargeBlock({ targetBytes: 1000, count: 0 })).rejects.toBeInstanceOf(ChainError)
  })
})
