import { RLP } from '@ethereumjs/rlp'
import { createBlob4844Tx, createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, concatBytes, hexToBytes } from '@ethereumjs/util'
import { beforeAll, describe, expect, it } from 'vitest'

import { EthCodecError, EthEncodeError } from '../../../../src/client/net/protocol/errors'
import {
  ETH_MESSAGES,
  ETH_VERSIONS,
  EthCode,
  type EthMessageName,
  type EthVersion,
  decodeEthPayload,
  decodeStatus,
  encodeEthPayload,
  encodeStatus,
  isRequest,
  isResponse,
  messageName,
  responseOf,
} from '../../../../src/client/net/protocol/ethmessages'
import { filled, loadTestChain, plain, sampleMessages, testCommon } from './fixtures'

import type { Common } from '@ethereumjs/common'
import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'
import type { TestChain } from '../../../../src/client/testing/testchain'

let common: Common
let chain: TestChain

beforeAll(async () => {
  ;({ common, chain } = await loadTestChain())
})

function expectDecodeError(code: number, payload: Uint8Array | RlpItem[], version: number, pattern: RegExp): void {
  let caught: unknown
  try {
    decodeEthPayload(code, payload, { version, common })
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(EthCodecError)
  expect((caught as EthCodecError).code).toBe('ERR_ETH_DECODE')
  expect((caught as Error).message).toMatch(pattern)
}

describe('message table', () => {
  it('eth/66 has 15 messages; eth/67 and eth/68 drop GetNodeData/NodeData; eth/69 and eth/70 drop the block announcements and add BlockRangeUpdate', () => {
    expect(ETH_MESSAGES[66]).toHaveLength(15)
    expect(ETH_MESSAGES[66]).not.toContain('BlockRangeUpdate')
    for (const v of [67, 68] as const) {
      expect(ETH_MESSAGES[v]).toHaveLength(13)
      expect(ETH_MESSAGES[v]).not.toContain('GetNodeData')
      expect(ETH_MESSAGES[v]).not.toContain('NodeData')
      expect(ETH_MESSAGES[v]).not.toContain('BlockRangeUpdate')
    }
    for (const v of [69, 70] as const) {
      expect(ETH_MESSAGES[v]).toHaveLength(12)
      for (const gone of ['GetNodeData', 'NodeData', 'NewBlockHashes', 'NewBlock']) expect(ETH_MESSAGES[v]).not.toContain(gone)
      expect(ETH_MESSAGES[v]).toContain('BlockRangeUpdate')
    }
    expect(ETH_VERSIONS).toEqual([70, 69, 68, 67, 66])
  })

  it('pairs requests with responses', () => {
    expect(responseOf('GetBlockHeaders')).toBe('BlockHeaders')
    expect(responseOf('GetBlockBodies')).toBe('BlockBodies')
    expect(responseOf('GetReceipts')).toBe('Receipts')
    expect(responseOf('GetPooledTransactions')).toBe('PooledTransactions')
    expect(responseOf('GetNodeData')).toBe('NodeData')
    expect(responseOf('BlockHeaders')).toBeUndefined()
    expect(isRequest('GetBlockHeaders')).toBe(true)
    expect(isRequest('NewBlock')).toBe(false)
    expect(isResponse('Receipts')).toBe(true)
    expect(isResponse('Transactions')).toBe(false)
  })

  it('maps codes to names per version', () => {
    expect(messageName(0x03, 68)).toBe('GetBlockHeaders')
    expect(messageName(0x0d, 66)).toBe('GetNodeData')
    expect(messageName(0x0d, 67)).toBeUndefined()
    expect(messageName(0x0b, 66)).toBeUndefined()
    expect(messageName(0x03, 65)).toBeUndefined()
    expect(messageName(0x11, 68)).toBeUndefined()
    expect(messageName(0x11, 69)).toBe('BlockRangeUpdate')
    expect(messageName(0x07, 69)).toBeUndefined()
    expect(messageName(0x01, 70)).toBeUndefined()
  })
})

describe.each(ETH_VERSIONS.map((v) => [v]))('eth/%i round trip', (version: EthVersion) => {
  it('encode -> RLP bytes -> decode is the identity for every message, and re-encodes to the same bytes', () => {
    const samples = sampleMessages(chain, version)
    const names = Object.keys(samples) as EthMessageName[]
    expect(names.sort()).toEqual([...ETH_MESSAGES[version]].sort())
    for (const name of names) {
      for (const data of samples[name]!) {
        const ctx = { version, common }
        const bytes = RLP.encode(encodeEthPayload(name, data as never, ctx))
        const decoded = decodeEthPayload(EthCode[name], bytes, ctx)
        expect(decoded.name).toBe(name)
        expect(decoded.code).toBe(EthCode[name])
        expect(plain(decoded.data), name).toEqual(plain(data))
        // Decoding the already-decoded item list gives the same result.
        const again = decodeEthPayload(EthCode[name], RLP.decode(bytes) as RlpItem[], ctx)
        expect(plain(again.data)).toEqual(plain(data))
        expect(bytesToHex(RLP.encode(encodeEthPayload(name, decoded.data as never, ctx)))).toBe(bytesToHex(bytes))
      }
    }
  })

  it('the samples cover legacy and typed transactions and receipts', () => {
    const types = new Set(chain.blocks.flatMap((b) => b.transactions.map((t) => t.type)))
    expect(types).toEqual(new Set([0, 1, 2]))
    const receiptKinds = new Set(chain.receipts.flat().map((r) => (r[0] >= 0xc0 ? 'legacy' : 'typed')))
    expect(receiptKinds).toEqual(new Set(['legacy', 'typed']))
  })

  it('rejects codes the version does not have', () => {
    const invalid =
      version === 66 ? [0x0b, 0x0c, 0x11, 0xff] : version <= 68 ? [0x0b, 0x0c, 0x0d, 0x0e, 0x11, 0xff] : [0x01, 0x07, 0x0b, 0x0c, 0x0d, 0x0e, 0x12, 0xff]
    for (const code of invalid) expectDecodeError(code, RLP.encode([]), version, /not valid on eth/)
  })
})

describe('Status (eth/66..68 form)', () => {
  const status = { version: 68, networkId: 1n, td: 17n, bestHash: filled(32, 1), genesisHash: filled(32, 2), forkId: { hash: filled(4, 3), next: 5n } }

  it('encodes exactly [version, networkid, td, blockhash, genesis, [forkhash, forknext]]', () => {
    const item = RLP.decode(RLP.encode(encodeStatus(status))) as RlpItem[]
    expect(item).toEqual([Uint8Array.of(68), Uint8Array.of(1), Uint8Array.of(17), filled(32, 1), filled(32, 2), [filled(4, 3), Uint8Array.of(5)]])
    expect(plain(decodeStatus(RLP.encode(encodeStatus(status)), 68))).toEqual(plain(status))
  })

  it('rejects wrong arity, bad hash and fork hash lengths', () => {
    const good = RLP.decode(RLP.encode(encodeStatus(status))) as RlpItem[]
    expect(() => decodeStatus(good.slice(0, 5), 68)).toThrow(/expected 6 items/)
    expect(() => decodeStatus([...good, new Uint8Array(0)], 68)).toThrow(/expected 6 items/)
    expect(() => decodeStatus([good[0], good[1], good[2], filled(31, 1), good[4], good[5]], 68)).toThrow(/bestHash: expected 32 bytes/)
    expect(() => decodeStatus([good[0], good[1], good[2], good[3], good[4], [filled(3, 1), new Uint8Array(0)]], 68)).toThrow(/forkId.hash: expected 4 bytes/)
    expect(() => decodeStatus([good[0], filled(9, 1), good[2], good[3], good[4], good[5]], 68)).toThrow(/networkId: integer longer than 8/)
    expect(() => decodeStatus(good.slice(0, 5), 68)).toThrow(EthCodecError)
  })
})

describe('strict field validation', () => {
  const hash = filled(32, 9)

  it('requires 32-byte hashes', () => {
    expectDecodeError(EthCode.GetBlockBodies, [Uint8Array.of(1), [filled(31, 1)]], 68, /hashes\[0\]: expected 32 bytes/)
    expectDecodeError(EthCode.GetReceipts, [Uint8Array.of(1), [hash, [hash]]], 68, /hashes\[1\]: expected a byte string/)
  })

  it('requires canonical integers of bounded size', () => {
    expectDecodeError(EthCode.GetBlockBodies, [Uint8Array.of(0, 1), [hash]], 68, /reqId: non-canonical integer/)
    expectDecodeError(EthCode.GetBlockBodies, [filled(9, 1), [hash]], 68, /reqId: integer longer than 8 bytes/)
    expectDecodeError(EthCode.GetBlockHeaders, [Uint8Array.of(1), [filled(9, 1), Uint8Array.of(1), new Uint8Array(0), new Uint8Array(0)]], 68, /block: integer longer/)
    // max and skip are uint64 (2^64 - 1 is valid, see rlpfields.test.ts); a ninth byte is not.
    expectDecodeError(EthCode.GetBlockHeaders, [Uint8Array.of(1), [Uint8Array.of(1), filled(9, 0xff), new Uint8Array(0), new Uint8Array(0)]], 68, /max: integer longer than 8/)
  })

  it('reads booleans as geth does', () => {
    const q = (rev: Uint8Array) => [Uint8Array.of(1), [Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(0), rev]] as RlpItem[]
    expectDecodeError(EthCode.GetBlockHeaders, q(Uint8Array.of(2)), 68, /reverse: invalid boolean/)
    expectDecodeError(EthCode.GetBlockHeaders, q(Uint8Array.of(0)), 68, /reverse: invalid boolean/)
    const ok = decodeEthPayload(EthCode.GetBlockHeaders, q(Uint8Array.of(1)), { version: 68, common })
    expect(ok.data).toMatchObject({ reqId: 1n, block: 1n, max: 1, skip: 0, reverse: true })
  })

  it('does not allocate by the requested max', () => {
    const huge = [Uint8Array.of(1), [Uint8Array.of(1), hexToBytes('0x1fffffffffffff'), new Uint8Array(0), new Uint8Array(0)]] as RlpItem[]
    expect(decodeEthPayload(EthCode.GetBlockHeaders, huge, { version: 68, common }).data).toMatchObject({ max: Number.MAX_SAFE_INTEGER })
  })

  it('rejects trailing bytes, non-list payloads and truncated RLP', () => {
    const good = RLP.encode([Uint8Array.of(1), [hash]])
    expectDecodeError(EthCode.GetBlockBodies, concatBytes(good, Uint8Array.of(0)), 68, /GetBlockBodies: RLP: 1 trailing bytes/)
    expectDecodeError(EthCode.GetBlockBodies, RLP.encode(hash), 68, /payload: expected a list/)
    expectDecodeError(EthCode.GetBlockBodies, good.subarray(0, good.length - 1), 68, /RLP: list exceeds/)
    expectDecodeError(EthCode.GetBlockBodies, new Uint8Array(0), 68, /RLP: empty input/)
    // Non-canonical RLP: a single byte < 0x80 with a string prefix.
    expectDecodeError(EthCode.GetBlockBodies, Uint8Array.of(0xc2, 0x81, 0x05), 68, /must not be prefixed/)
  })

  it('checks eth/68 announcements: equal lengths, uint32 sizes', () => {
    expectDecodeError(EthCode.NewPooledTransactionHashes, [Uint8Array.of(2, 2), [Uint8Array.of(1)], [hash]], 68, /differ in length/)
    expectDecodeError(EthCode.NewPooledTransactionHashes, [Uint8Array.of(2), [filled(5, 1)], [hash]], 68, /size exceeds uint32/)
    expectDecodeError(EthCode.NewPooledTransactionHashes, [hash], 68, /expected 3 items/)
    // The eth/66 form is a plain hash list, so the eth/68 form is malformed there.
    expectDecodeError(EthCode.NewPooledTransactionHashes, [Uint8Array.of(2), [Uint8Array.of(1)], [hash]], 67, /hashes\[0\]: expected 32 bytes/)
    expect(() => encodeEthPayload('NewPooledTransactionHashes', { hashes: [hash] }, { version: 68, common })).toThrow(EthEncodeError)
  })

  it('wraps errors of @ethereumjs header and tx decoding', () => {
    const header = chain.blocks[0].header.raw()
    const badHeader = [...header]
    badHeader[0] = filled(31, 1) // parentHash
    expectDecodeError(EthCode.BlockHeaders, [Uint8Array.of(1), [badHeader]], 68, /BlockHeaders: invalid payload/)
    expectDecodeError(EthCode.Transactions, [[Uint8Array.of(1), Uint8Array.of(2)]], 68, /Transactions: invalid payload/)
    expectDecodeError(EthCode.Transactions, [Uint8Array.of(0x99, 1)], 68, /invalid type byte/)
    expectDecodeError(EthCode.Transactions, [Uint8Array.of(0x05, 0xc0)], 68, /Transactions: invalid payload/)
  })

  it('validates body and receipt shapes', () => {
    expectDecodeError(EthCode.BlockBodies, [Uint8Array.of(1), [[[], [], [], []]]], 68, /expected 2 or 3 body parts/)
    expectDecodeError(EthCode.BlockBodies, [Uint8Array.of(1), [[[], [], [[Uint8Array.of(1)]]]]], 68, /withdrawals\[0\]: expected 4 items/)
    expectDecodeError(EthCode.BlockBodies, [Uint8Array.of(1), [[[new Uint8Array(0)], []]]], 68, /empty transaction/)
    const receipt = [Uint8Array.of(1), Uint8Array.of(5), filled(255, 0), []] as RlpItem[]
    expectDecodeError(EthCode.Receipts, [Uint8Array.of(1), [[receipt]]], 68, /logsBloom: expected 256 bytes/)
    expectDecodeError(EthCode.Receipts, [Uint8Array.of(1), [[Uint8Array.of(2, 0xc5)]]], 68, /typed receipt payload is not RLP/)
    expectDecodeError(EthCode.Receipts, [Uint8Array.of(1), [[Uint8Array.of(0x80)]]], 68, /invalid typed receipt envelope/)
  })
})

describe('blob transactions (EIP-4844)', () => {
  // No KZG library ships with the project; a stand-in object is enough to *build* a
  // canonical blob tx (no blobs, so no KZG call). It is never used to verify anything.
  function blobTx() {
    const kzgCommon = testCommon()
    kzgCommon.customCrypto.kzg = {} as never
    return createBlob4844Tx(
      { chainId: kzgCommon.chainId(), maxFeePerGas: 10n, maxFeePerBlobGas: 1n, gasLimit: 21000n, to: `0x${'11'.repeat(20)}`, blobVersionedHashes: [`0x01${'22'.repeat(31)}`] },
      { common: kzgCommon },
    ).sign(filled(32, 1))
  }

  it('refuses to broadcast a blob tx or send one without its blobs', () => {
    const tx = blobTx()
    expect(() => encodeEthPayload('Transactions', { txs: [tx] }, { version: 68, common })).toThrow(/must not be broadcast/)
    expect(() => encodeEthPayload('PooledTransactions', { reqId: 1n, txs: [tx] }, { version: 68, common })).toThrow(/must carry its blobs/)
  })

  it('rejects a blob tx in Transactions, and in PooledTransactions without KZG', () => {
    const raw = blobTx().serialize()
    expectDecodeError(EthCode.Transactions, [raw], 68, /blob transactions must not be broadcast/)
    expectDecodeError(EthCode.PooledTransactions, [Uint8Array.of(1), [raw]], 68, /no KZG is configured/)
  })

  it('still carries other typed transactions', () => {
    const tx = createFeeMarket1559Tx({ chainId: common.chainId(), maxFeePerGas: 10n, gasLimit: 21000n }, { common }).sign(filled(32, 1))
    const bytes = RLP.encode(encodeEthPayload('Transactions', { txs: [tx] }, { version: 68, common }))
    const decoded = decodeEthPayload(EthCode.Transactions, bytes, { version: 68, common })
    expect(plain(decoded.data)).toEqual(plain({ txs: [tx] }))
  })
})

describe('encoding errors', () => {
  it('refuses messages the version does not have', () => {
    expect(() => encodeEthPayload('GetNodeData', { reqId: 1n, hashes: [] }, { version: 67, common })).toThrow(/not a message of eth\/67/)
    expect(() => encodeEthPayload('GetNodeData', { reqId: 1n, hashes: [] }, { version: 67, common })).toThrow(EthEncodeError)
    expect(() => encodeEthPayload('Status', {} as never, { version: 65, common })).toThrow(EthEncodeError)
  })
})
