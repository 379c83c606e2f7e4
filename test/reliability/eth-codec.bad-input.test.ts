import { RLP } from '@ethereumjs/rlp'
import { expect } from 'vitest'
import { Common } from '../../src/chain-config'
import { EthCodecError } from '../../src/client/net/protocol/errors'
import { decodeEthPayload, EthCode, type EthVersion } from '../../src/client/net/protocol/ethmessages'
import { MAX_RLP_DEPTH } from '../../src/client/net/protocol/rlpdecode'
import { badInputTable, type BadInputCase, expectThrowsTyped } from './table'

import type { Input } from '@ethereumjs/rlp'

const common = Common.custom({ chainId: 61_007, name: 'h11-eth-bad-input' })

const hash = (fill = 1): Uint8Array => new Uint8Array(32).fill(fill)
const empty = new Uint8Array(0)

/** decodeEthPayload must throw EthCodecError (ERR_ETH_DECODE) whose message names `mentions`. */
function refuses(code: number, payload: Uint8Array | Input, mentions: string, version: EthVersion = 68): void {
  const bytes = payload instanceof Uint8Array ? payload : RLP.encode(payload)
  const err = expectThrowsTyped(() => decodeEthPayload(code, bytes, { version, common }), EthCodecError, 'ERR_ETH_DECODE')
  expect(err.message).toContain(mentions)
}

/** A case whose outcome is "EthCodecError (ERR_ETH_DECODE) naming `mentions`". */
function decodeCase(what: string, code: number, payload: Uint8Array | Input, mentions: string, version: EthVersion = 68): BadInputCase {
  return {
    case: what,
    expected: `EthCodecError (ERR_ETH_DECODE) naming "${mentions}"`,
    run: () => refuses(code, payload, mentions, version),
  }
}

function nested(depth: number): Input {
  let item: Input = []
  for (let i = 0; i < depth; i++) item = [item]
  return item
}

const validStatus: Input = [Uint8Array.of(68), Uint8Array.of(1), empty, hash(2), hash(3), [Uint8Array.of(1, 2, 3, 4), empty]]
const validGetHeaders: Input = [Uint8Array.of(7), [Uint8Array.of(5), Uint8Array.of(10), empty, empty]]

badInputTable('eth', 'undecodable RLP', [
  decodeCase('empty payload', EthCode.Status, empty, 'empty input'),
  decodeCase('list shorter than its announced length', EthCode.GetBlockHeaders, RLP.encode(validGetHeaders).subarray(0, 5), 'exceeds'),
  decodeCase('trailing bytes after the message', EthCode.GetBlockHeaders, Uint8Array.from([...RLP.encode(validGetHeaders), 0x00]), 'trailing'),
  decodeCase('single byte below 0x80 wrapped in a string prefix (non-canonical)', EthCode.GetBlockBodies, Uint8Array.of(0xc4, 0x81, 0x05, 0xc1, 0x80), 'must not be prefixed'),
  decodeCase('long-form length for a short string', EthCode.GetBlockBodies, Uint8Array.of(0xc5, 0xb8, 0x02, 0x01, 0x02, 0xc0), 'long form'),
  decodeCase('length with a leading zero byte', EthCode.GetBlockBodies, Uint8Array.of(0xf9, 0x00, 0x38), 'leading zero'),
  decodeCase(`lists nested ${MAX_RLP_DEPTH + 1} deep`, EthCode.BlockBodies, RLP.encode([Uint8Array.of(1), nested(MAX_RLP_DEPTH + 1)]), 'nested deeper'),
  decodeCase('message code 0x11 (unassigned)', 0x11, RLP.encode([]), 'not valid on eth/68'),
  decodeCase('GetNodeData (0x0d) on eth/67, which dropped it', EthCode.GetNodeData, RLP.encode([Uint8Array.of(1), [hash()]]), 'not valid on eth/67', 67),
])

badInputTable('eth', 'wrong field types and sizes', [
  decodeCase('Status with 5 fields', EthCode.Status, (validStatus as Input[]).slice(0, 5), 'expected 6 items'),
  decodeCase('Status network id as a list', EthCode.Status, [Uint8Array.of(68), [Uint8Array.of(1)], empty, hash(), hash(), [Uint8Array.of(1, 2, 3, 4), empty]], 'networkId'),
  decodeCase('Status genesis hash of 31 bytes', EthCode.Status, [Uint8Array.of(68), Uint8Array.of(1), empty, hash(), new Uint8Array(31), [Uint8Array.of(1, 2, 3, 4), empty]], 'genesisHash'),
  decodeCase('Status fork hash of 5 bytes', EthCode.Status, [Uint8Array.of(68), Uint8Array.of(1), empty, hash(), hash(), [new Uint8Array(5), empty]], 'forkId.hash'),
  decodeCase('Status total difficulty over 256 bits', EthCode.Status, [Uint8Array.of(68), Uint8Array.of(1), new Uint8Array(33).fill(1), hash(), hash(), [new Uint8Array(4), empty]], 'td'),
  decodeCase('GetBlockHeaders reqId of 9 bytes', EthCode.GetBlockHeaders, [new Uint8Array(9).fill(1), [Uint8Array.of(5), Uint8Array.of(10), empty, empty]], 'reqId'),
  decodeCase('GetBlockHeaders amount with a leading zero (non-canonical integer)', EthCode.GetBlockHeaders, [Uint8Array.of(7), [Uint8Array.of(5), Uint8Array.of(0, 10), empty, empty]], 'max'),
  decodeCase('GetBlockHeaders reverse = 2', EthCode.GetBlockHeaders, [Uint8Array.of(7), [Uint8Array.of(5), Uint8Array.of(10), empty, Uint8Array.of(2)]], 'reverse'),
  decodeCase('GetBlockHeaders origin as a list', EthCode.GetBlockHeaders, [Uint8Array.of(7), [[Uint8Array.of(5)], Uint8Array.of(10), empty, empty]], 'block'),
  decodeCase('GetBlockBodies hash of 33 bytes', EthCode.GetBlockBodies, [Uint8Array.of(1), [hash(), new Uint8Array(33)]], 'hashes[1]'),
  decodeCase('eth/68 announcement with 2 types, 1 size, 2 hashes', EthCode.NewPooledTransactionHashes, [Uint8Array.of(2, 2), [Uint8Array.of(100)], [hash(), hash(4)]], 'differ in length'),
  decodeCase('eth/68 announcement size over uint32', EthCode.NewPooledTransactionHashes, [Uint8Array.of(2), [Uint8Array.of(1, 0, 0, 0, 0)], [hash()]], 'uint32'),
  decodeCase('BlockBodies typed transaction with type byte 0x80', EthCode.BlockBodies, [Uint8Array.of(1), [[[Uint8Array.of(0x80, 1, 2)], []]]], 'invalid type byte'),
  decodeCase('BlockBodies withdrawal address of 19 bytes', EthCode.BlockBodies, [Uint8Array.of(1), [[[], [], [[Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(19), Uint8Array.of(1)]]]]], 'address'),
  decodeCase('Receipts logs bloom of 255 bytes', EthCode.Receipts, [Uint8Array.of(1), [[[Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(255), []]]]], 'logsBloom'),
  decodeCase('Transactions with a legacy transaction of 3 fields', EthCode.Transactions, [[Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]], 'Transactions'),
  decodeCase('Transactions broadcasting a blob transaction (type 3)', EthCode.Transactions, [Uint8Array.of(3, 0xc0)], 'must not be broadcast'),
  decodeCase('NewBlock with a 2-field block', EthCode.NewBlock, [[[], []], empty], 'block'),
])
