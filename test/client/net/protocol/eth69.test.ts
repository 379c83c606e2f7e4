import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { beforeAll, describe, expect, it } from 'vitest'

import { decodeReceipt as decodeConsensusReceipt } from '../../../../src/client/blockchain/verify'
import { EthCodecError, EthEncodeError } from '../../../../src/client/net/protocol/errors'
import { EthCode, decodeEthPayload, decodeStatus, encodeEthPayload, encodeStatus } from '../../../../src/client/net/protocol/ethmessages'
import { BLOOM_BYTES, decodeNetworkReceipt, encodeNetworkReceipt, logsBloom } from '../../../../src/client/net/protocol/ethreceipts'
import { filled, loadTestChain, plain } from './fixtures'

import type { Common } from '@ethereumjs/common'
import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'
import type { TestChain } from '../../../../src/client/testing/testchain'

/**
 * What eth/69 (EIP-7642) and eth/70 (EIP-7975) change in the codec, byte by
 * byte: the block-range Status, BlockRangeUpdate, receipts without the bloom
 * (rebuilt from the logs on receipt), the partial receipt lists, and the
 * block announcements that no longer exist.
 */

let common: Common
let chain: TestChain

beforeAll(async () => {
  ;({ common, chain } = await loadTestChain())
})

const hex = (b: Uint8Array): string => bytesToHex(b)
const rlp = (item: unknown): Uint8Array => RLP.encode(item as Uint8Array)

describe('eth/69 Status', () => {
  const status = { version: 69, networkId: 1n, genesisHash: filled(32, 2), forkId: { hash: filled(4, 3), next: 5n }, earliestBlock: 7n, latestBlock: 300n, latestBlockHash: filled(32, 1) }

  it('encodes exactly [version, networkid, genesis, [forkhash, forknext], earliestBlock, latestBlock, latestBlockHash]', () => {
    const item = RLP.decode(RLP.encode(encodeStatus(status))) as RlpItem[]
    expect(item).toEqual([Uint8Array.of(69), Uint8Array.of(1), filled(32, 2), [filled(4, 3), Uint8Array.of(5)], Uint8Array.of(7), Uint8Array.of(1, 0x2c), filled(32, 1)])
    expect(plain(decodeStatus(RLP.encode(encodeStatus(status)), 69))).toEqual(plain(status))
  })

  it('each session decodes its own form only: a 6-item Status on eth/69 and a 7-item one on eth/68 are malformed', () => {
    const range = RLP.encode(encodeStatus(status))
    const td = RLP.encode(encodeStatus({ version: 68, networkId: 1n, td: 1n, bestHash: filled(32, 1), genesisHash: filled(32, 2), forkId: status.forkId }))
    expect(() => decodeStatus(td, 69)).toThrow(/expected 7 items, got 6/)
    expect(() => decodeStatus(range, 68)).toThrow(/expected 6 items, got 7/)
    expect(() => decodeStatus(range, 70)).not.toThrow()
  })

  it('requires a 32-byte latest hash and uint64 block numbers', () => {
    const good = RLP.decode(RLP.encode(encodeStatus(status))) as RlpItem[]
    expect(() => decodeStatus([...good.slice(0, 6), filled(31, 1)], 69)).toThrow(/latestBlockHash: expected 32 bytes/)
    expect(() => decodeStatus([...good.slice(0, 4), filled(9, 1), good[5]!, good[6]!], 69)).toThrow(/earliestBlock: integer longer than 8/)
    expect(() => decodeStatus([...good.slice(0, 6), filled(31, 1)], 69)).toThrow(EthCodecError)
  })

  it('refuses to encode one form under the other version', () => {
    expect(() => encodeStatus({ ...status, version: 68 })).toThrow(EthEncodeError)
    expect(() => encodeStatus({ version: 70, networkId: 1n, td: 1n, bestHash: filled(32, 1), genesisHash: filled(32, 2), forkId: status.forkId })).toThrow(EthEncodeError)
  })
})

describe('BlockRangeUpdate (0x11)', () => {
  it('encodes exactly [earliestBlock, latestBlock, latestBlockHash] and exists from eth/69 on', () => {
    const data = { earliestBlock: 0n, latestBlock: 64n, latestBlockHash: filled(32, 9) }
    const bytes = RLP.encode(encodeEthPayload('BlockRangeUpdate', data, { version: 69, common }))
    expect(RLP.decode(bytes)).toEqual([new Uint8Array(0), Uint8Array.of(64), filled(32, 9)])
    expect(plain(decodeEthPayload(EthCode.BlockRangeUpdate, bytes, { version: 70, common }).data)).toEqual(plain(data))
    expect(() => encodeEthPayload('BlockRangeUpdate', data, { version: 68, common })).toThrow(/not a message of eth\/68/)
    expect(() => decodeEthPayload(EthCode.BlockRangeUpdate, bytes, { version: 68, common })).toThrow(/not valid on eth\/68/)
  })

  it('rejects wrong arity and hash length (validity of the range is the session\'s check)', () => {
    const ctx = { version: 69, common }
    expect(() => decodeEthPayload(EthCode.BlockRangeUpdate, [Uint8Array.of(1), Uint8Array.of(2)], ctx)).toThrow(/expected 3 items/)
    expect(() => decodeEthPayload(EthCode.BlockRangeUpdate, [Uint8Array.of(1), Uint8Array.of(2), filled(20, 1)], ctx)).toThrow(/latestBlockHash: expected 32 bytes/)
    // earliest > latest decodes: the session (BlockRangeUpdates) refuses it as a protocol error.
    expect(decodeEthPayload(EthCode.BlockRangeUpdate, [Uint8Array.of(9), Uint8Array.of(2), filled(32, 1)], ctx).data).toMatchObject({ earliestBlock: 9n, latestBlock: 2n })
  })
})

describe('no block announcements from eth/69 on', () => {
  it.each([69, 70])('NewBlock and NewBlockHashes are not messages of eth/%i, either way', (version) => {
    const block = chain.blocks[0]!
    const ctx = { version, common }
    expect(() => encodeEthPayload('NewBlock', { block, td: 0n }, ctx)).toThrow(EthEncodeError)
    expect(() => encodeEthPayload('NewBlockHashes', { hashes: [] }, ctx)).toThrow(EthEncodeError)
    const newBlock = RLP.encode(encodeEthPayload('NewBlock', { block, td: 0n }, { version: 68, common }))
    expect(() => decodeEthPayload(EthCode.NewBlock, newBlock, ctx)).toThrow(/code 0x7 is not valid on eth\/(69|70)/)
    expect(() => decodeEthPayload(EthCode.NewBlockHashes, RLP.encode([]), ctx)).toThrow(EthCodecError)
  })
})

describe('receipts without the bloom (eth/69+)', () => {
  it('the bloom rebuilt from the logs equals the consensus bloom of every receipt of the test chain', () => {
    const receipts = chain.receipts.flat()
    const withLogs = receipts.filter((r) => decodeConsensusReceipt(r).logs.length > 0)
    expect(withLogs.length).toBeGreaterThan(4)
    for (const r of receipts) {
      const consensus = decodeConsensusReceipt(r)
      expect(hex(logsBloom(consensus.logs as unknown as RlpItem[]))).toBe(hex(consensus.bloom))
    }
    // ...and the OR of them is each block header's logsBloom.
    for (const [i, block] of chain.blocks.entries()) {
      const or = new Uint8Array(BLOOM_BYTES)
      for (const r of chain.receipts[i]!) logsBloom(decodeConsensusReceipt(r).logs as unknown as RlpItem[]).forEach((b, j) => (or[j]! |= b))
      expect(hex(or)).toBe(hex(block.header.logsBloom))
    }
  })

  it('travels as [tx-type, status, cumulative-gas, logs] and comes back as the same consensus bytes', () => {
    for (const r of chain.receipts.flat()) {
      const consensus = decodeConsensusReceipt(r)
      const wire = encodeNetworkReceipt(r) as RlpItem[]
      expect(wire).toHaveLength(4)
      expect(hex(wire[0] as Uint8Array)).toBe(hex(consensus.type === 0 ? new Uint8Array(0) : Uint8Array.of(consensus.type)))
      expect(hex(wire[1] as Uint8Array)).toBe(hex(consensus.status))
      expect(rlp(wire[3])).toEqual(rlp(consensus.logs))
      // No 256-byte bloom on the wire: the receipt is that much shorter.
      expect(rlp(wire).length).toBeLessThan(r.length - BLOOM_BYTES + 4)
      expect(hex(decodeNetworkReceipt(RLP.decode(rlp(wire)) as RlpItem[], 'receipt'))).toBe(hex(r))
    }
  })

  it('a whole Receipts message round-trips the test chain on eth/69 and eth/70, byte-identical in consensus form', () => {
    for (const version of [69, 70]) {
      const ctx = { version, common }
      const bytes = RLP.encode(encodeEthPayload('Receipts', { reqId: 5n, receipts: chain.receipts }, ctx))
      const eth68 = RLP.encode(encodeEthPayload('Receipts', { reqId: 5n, receipts: chain.receipts }, { version: 68, common }))
      expect(bytes.length).toBeLessThan(eth68.length)
      const decoded = decodeEthPayload(EthCode.Receipts, bytes, ctx).data as { receipts: Uint8Array[][] }
      expect(decoded.receipts.map((l) => l.map(hex))).toEqual(chain.receipts.map((l) => l.map(hex)))
    }
  })

  it('rejects malformed bloomless receipts with EthCodecError', () => {
    const ctx = { version: 69, common }
    const log = [filled(20, 1), [filled(32, 2)], Uint8Array.of(3)]
    const bad = (receipt: unknown): RlpItem[] => [Uint8Array.of(1), [[receipt as RlpItem]]]
    expect(() => decodeEthPayload(EthCode.Receipts, bad([Uint8Array.of(0x80), Uint8Array.of(1), Uint8Array.of(5), []]), ctx)).toThrow(/txType: 128 is not an EIP-2718 type/)
    expect(() => decodeEthPayload(EthCode.Receipts, bad([new Uint8Array(0), filled(2, 1), Uint8Array.of(5), []]), ctx)).toThrow(/status: expected status byte or 32-byte root/)
    expect(() => decodeEthPayload(EthCode.Receipts, bad([new Uint8Array(0), Uint8Array.of(1), filled(9, 1), []]), ctx)).toThrow(/cumulativeGasUsed: integer longer than 8/)
    expect(() => decodeEthPayload(EthCode.Receipts, bad([new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(5), [[filled(19, 1), [], new Uint8Array(0)]]]), ctx)).toThrow(/address: expected 20 bytes/)
    // The eth/68 form (a bloom inside) is malformed on eth/69: five items where four belong.
    expect(() => decodeEthPayload(EthCode.Receipts, bad([new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(5), filled(256, 0), [log]]), ctx)).toThrow(/expected 4 items/)
    const consensusOnly = chain.receipts.flat().find((r) => r[0]! >= 0xc0)!
    expect(() => decodeEthPayload(EthCode.Receipts, [Uint8Array.of(1), [[RLP.decode(consensusOnly) as RlpItem]]], ctx)).toThrow(EthCodecError)
    expect(() => encodeNetworkReceipt(Uint8Array.of(0x00, 0xc0))).toThrow(EthEncodeError)
  })
})

describe('partial receipt lists (eth/70)', () => {
  const hashes = [filled(32, 1), filled(32, 2)]

  it('GetReceipts carries [reqId, firstBlockReceiptIndex, [hash, ...]] on eth/70 and stays [reqId, [hash, ...]] below', () => {
    const on70 = RLP.encode(encodeEthPayload('GetReceipts', { reqId: 3n, hashes, firstBlockReceiptIndex: 17n }, { version: 70, common }))
    expect(RLP.decode(on70)).toEqual([Uint8Array.of(3), Uint8Array.of(17), hashes])
    const defaulted = RLP.encode(encodeEthPayload('GetReceipts', { reqId: 3n, hashes }, { version: 70, common }))
    expect(RLP.decode(defaulted)).toEqual([Uint8Array.of(3), new Uint8Array(0), hashes])
    const on69 = RLP.encode(encodeEthPayload('GetReceipts', { reqId: 3n, hashes }, { version: 69, common }))
    expect(RLP.decode(on69)).toEqual([Uint8Array.of(3), hashes])
    expect(() => encodeEthPayload('GetReceipts', { reqId: 3n, hashes, firstBlockReceiptIndex: 1n }, { version: 69, common })).toThrow(/eth\/70\+ only/)
    expect(() => decodeEthPayload(EthCode.GetReceipts, on69, { version: 70, common })).toThrow(/expected 3 items/)
  })

  it('Receipts carries [reqId, lastBlockIncomplete, [[receipt, ...], ...]] on eth/70', () => {
    const receipts = [chain.receipts[0]!, chain.receipts[1]!.slice(0, 1)]
    const bytes = RLP.encode(encodeEthPayload('Receipts', { reqId: 4n, receipts, lastBlockIncomplete: true }, { version: 70, common }))
    const [reqId, flag, lists] = RLP.decode(bytes) as [Uint8Array, Uint8Array, unknown[][]]
    expect([hex(reqId), hex(flag), lists.map((l) => l.length)]).toEqual([hex(Uint8Array.of(4)), hex(Uint8Array.of(1)), [receipts[0]!.length, 1]])
    expect(decodeEthPayload(EthCode.Receipts, bytes, { version: 70, common }).data).toMatchObject({ reqId: 4n, lastBlockIncomplete: true })
    expect(() => encodeEthPayload('Receipts', { reqId: 4n, receipts, lastBlockIncomplete: true }, { version: 69, common })).toThrow(/eth\/70\+ only/)
    const badFlag = [Uint8Array.of(4), Uint8Array.of(2), []] as RlpItem[]
    expect(() => decodeEthPayload(EthCode.Receipts, badFlag, { version: 70, common })).toThrow(/lastBlockIncomplete: invalid boolean/)
  })
})
