import { RLP } from '@ethereumjs/rlp'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { Common } from '../../src/chain-config'
import { EthCodecError } from '../../src/client/net/protocol/errors'
import {
  decodeEthPayload,
  encodeEthPayload,
  ETH_MESSAGES,
  EthCode,
  type EthMessageName,
  type EthMessages,
  type EthVersion,
} from '../../src/client/net/protocol/ethmessages'
import { logsBloom } from '../../src/client/net/protocol/ethreceipts'
import type { RlpItem } from '../../src/client/net/protocol/rlpfields'
import { buildTestChain, type TestChain } from '../../src/client/testing/testchain'
import { flipBit, fuzzParams, fuzzTimeout, onlyTyped } from './fuzz'

import type { Block, BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'

const ETH_DECODE = { type: EthCodecError, codes: ['ERR_ETH_DECODE'] } as const

const common = Common.custom({ chainId: 61_006, name: 'h11-fuzz' })
let chain: TestChain
let headers: BlockHeader[]
let txs: TypedTransaction[]

async function loadChain(): Promise<void> {
  if (chain !== undefined) return
  chain = await buildTestChain({ common, blocks: 3, txsPerBlock: 6, seed: 'h11-fuzz' })
  headers = [chain.genesis.header, ...chain.blocks.map((b) => b.header)]
  txs = chain.blocks.flatMap((b) => [...b.transactions])
}

/** Every code from 0x00 to 0x12: the valid ones of each version and the gaps between and after them. */
const ALL_CODES = Array.from({ length: 0x13 }, (_, i) => i)

// ---- arbitraries of valid message data ----

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const hash = bytes(32)
const hashes = fc.array(hash, { maxLength: 8 })
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const u256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n })
const safeNat = fc.oneof(fc.nat({ max: 2000 }), fc.maxSafeNat())

/** uintBytes-style minimal big-endian integer bytes. */
function uint(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0)
  let h = v.toString(16)
  if (h.length % 2) h = `0${h}`
  return Uint8Array.from(Buffer.from(h, 'hex'))
}

const logsArb = fc.array(fc.tuple(bytes(20), fc.array(hash, { maxLength: 4 }), fc.uint8Array({ maxLength: 40 })), { maxLength: 3 })

/**
 * A consensus receipt: legacy list bytes, or `type || rlp(list)`. Up to eth/68
 * the bloom travels and may be anything; from eth/69 on it is rebuilt from the
 * logs on receipt, so only receipts whose bloom is their logs' round-trip
 * (the bloom computation itself is checked against the VM's receipts in
 * test/client/net/protocol/eth69.test.ts).
 */
function receiptArb(version: EthVersion): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.oneof(fc.constant(new Uint8Array(0)), fc.constant(Uint8Array.of(1)), hash), u64, bytes(256), logsArb, fc.integer({ min: 0, max: 0x7f }))
    .map(([status, gas, randomBloom, logs, type]) => {
      const bloom = version >= 69 ? logsBloom(logs) : randomBloom
      const body = RLP.encode([status, uint(gas), bloom, logs])
      return type === 0 ? body : Uint8Array.from([type, ...body])
    })
}

/** Block body parts as the wire carries them (shape-checked only by the codec). */
const txShapeArb: fc.Arbitrary<Uint8Array | Uint8Array[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ maxLength: 60 })).map(([t, b]) => Uint8Array.from([t, ...b])),
  fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 9 }),
)
const bodyArb: fc.Arbitrary<BlockBodyBytes> = fc
  .tuple(
    fc.array(txShapeArb, { maxLength: 4 }),
    fc.array(fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 16 }), { maxLength: 2 }),
    fc.option(fc.array(fc.tuple(u64, u64, bytes(20), u64).map(([i, v, a, amt]) => [uint(i), uint(v), a, uint(amt)]), { maxLength: 3 })),
  )
  .map(([t, u, w]) => (w === null ? [t, u] : [t, u, w]) as unknown as BlockBodyBytes)

function dataArb(name: EthMessageName, version: EthVersion): fc.Arbitrary<EthMessages[EthMessageName]> {
  const reqId = u64
  switch (name) {
    case 'Status':
      if (version >= 69) {
        return fc.record({
          version: fc.constant(version),
          networkId: u64,
          genesisHash: hash,
          forkId: fc.record({ hash: bytes(4), next: u64 }),
          earliestBlock: u64,
          latestBlock: u64,
          latestBlockHash: hash,
        })
      }
      return fc.record({
        version: fc.constant(version),
        networkId: u64,
        td: u256,
        bestHash: hash,
        genesisHash: hash,
        forkId: fc.record({ hash: bytes(4), next: u64 }),
      })
    case 'BlockRangeUpdate':
      return fc.record({ earliestBlock: u64, latestBlock: u64, latestBlockHash: hash })
    case 'NewBlockHashes':
      return fc.record({ hashes: fc.array(fc.tuple(hash, u64), { maxLength: 6 }) })
    case 'Transactions':
      return fc.record({ txs: fc.subarray(txs, { maxLength: 4 }) })
    case 'GetBlockHeaders':
      return fc.record({ reqId, block: fc.oneof(u64, hash), max: safeNat, skip: safeNat, reverse: fc.boolean() })
    case 'BlockHeaders':
      return fc.record({ reqId, headers: fc.subarray(headers) })
    case 'GetReceipts':
      if (version >= 70) return fc.record({ reqId, hashes, firstBlockReceiptIndex: u64 })
      return fc.record({ reqId, hashes })
    case 'GetBlockBodies':
    case 'GetPooledTransactions':
    case 'GetNodeData':
      return fc.record({ reqId, hashes })
    case 'BlockBodies':
      return fc.record({ reqId, bodies: fc.array(bodyArb, { maxLength: 4 }) })
    case 'NewBlock':
      return fc.record({ block: fc.constantFrom(...chain.blocks), td: u256 }) as fc.Arbitrary<{ block: Block; td: bigint }>
    case 'NewPooledTransactionHashes':
      if (version < 68) return fc.record({ hashes })
      return fc
        .array(fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffffffff }), hash), { maxLength: 8 })
        .map((items) => ({ types: items.map((i) => i[0]), sizes: items.map((i) => i[1]), hashes: items.map((i) => i[2]) }))
    case 'PooledTransactions':
      return fc.record({ reqId, txs: fc.subarray(txs, { maxLength: 4 }) })
    case 'NodeData':
      return fc.record({ reqId, data: fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }) })
    case 'Receipts': {
      const receipts = fc.array(fc.array(receiptArb(version), { maxLength: 3 }), { maxLength: 3 })
      if (version >= 70) return fc.record({ reqId, receipts, lastBlockIncomplete: fc.boolean() })
      return fc.record({ reqId, receipts })
    }
  }
}

/** A comparable form: bytes as hex, bigints tagged, headers/blocks/txs by their serialization. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('hex')
  if (typeof x === 'bigint') return `${x}n`
  if (Array.isArray(x)) return x.map(plain)
  if (x !== null && typeof x === 'object') {
    const o = x as { serialize?: () => Uint8Array }
    if (typeof o.serialize === 'function') return { serialized: plain(o.serialize()) }
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]))
  }
  return x
}

function encoded(name: EthMessageName, data: unknown, version: EthVersion): Uint8Array {
  return RLP.encode(encodeEthPayload(name, data as never, { version, common }))
}

// ---- arbitrary hostile payloads ----

const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(0, 1, 4, 8, 9, 20, 32, 33, 256).chain((n) => bytes(n)),
)
const itemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small' }, junkBytes, fc.array(tie('item'), { maxLength: 6 })),
})).item

/**
 * Declares the ETH decoder properties of one protocol version. Each version
 * has its own test file (eth66..70.fuzz.test.ts) so that the long
 * `npm run fuzz` run spreads over the workers.
 */
export function describeEthFuzz(version: EthVersion): void {
  describe(`fuzz: ETH messages on eth/${version}`, () => {
    beforeAll(loadChain, 60_000)

    for (const code of ALL_CODES) {
      it(
        `code 0x${code.toString(16).padStart(2, '0')}: random bytes, random RLP and random item trees decode or throw EthCodecError only`,
        () => {
          const ctx = { version, common }
          fc.assert(
            fc.property(fc.uint8Array({ maxLength: 400 }), itemArb, (raw, item) => {
              onlyTyped(ETH_DECODE, () => decodeEthPayload(code, raw, ctx))
              onlyTyped(ETH_DECODE, () => decodeEthPayload(code, RLP.encode(item), ctx))
              if (Array.isArray(item)) onlyTyped(ETH_DECODE, () => decodeEthPayload(code, item, ctx))
            }),
            fuzzParams(),
          )
        },
        fuzzTimeout(1),
      )
    }

    for (const name of ETH_MESSAGES[version]) {
      it(
        `${name}: decode(encode(x)) is the identity on valid data`,
        () => {
          fc.assert(
            fc.property(dataArb(name, version), (data) => {
              const msg = decodeEthPayload(EthCode[name], encoded(name, data, version), { version, common })
              expect(msg.name).toBe(name)
              expect(msg.code).toBe(EthCode[name])
              expect(plain(msg.data)).toEqual(plain(data))
            }),
            fuzzParams(),
          )
        },
        fuzzTimeout(5),
      )

      it(
        `${name}: valid bytes flipped, truncated or extended decode or throw EthCodecError only`,
        () => {
          fc.assert(
            fc.property(dataArb(name, version), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (data, bit, cut, extra) => {
              const valid = encoded(name, data, version)
              const ctx = { version, common }
              for (const mutated of [flipBit(valid, bit), valid.subarray(0, cut % valid.length)]) {
                onlyTyped(ETH_DECODE, () => decodeEthPayload(EthCode[name], mutated, ctx))
              }
              // Trailing bytes after a whole message are never silently ignored.
              const extended = Uint8Array.from([...valid, ...extra])
              expect(onlyTyped(ETH_DECODE, () => decodeEthPayload(EthCode[name], extended, ctx))).toBeUndefined()
            }),
            fuzzParams(),
          )
        },
        fuzzTimeout(8),
      )
    }
  })
}
