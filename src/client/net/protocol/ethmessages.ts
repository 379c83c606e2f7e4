import { EthCodecError, EthEncodeError } from './errors'
import { decodeRlp } from './rlpdecode'
import { decodeBlock, decodeBody, decodeHeader, decodeReceipt, decodeTx, encodeReceipt, encodeTx } from './ethitems'
import { decodeNetworkReceipt, encodeNetworkReceipt } from './ethreceipts'
import { type BlockRange, type EthStatus, MAX_TD_BYTES, decodeBlockRange, decodeStatusItems, encodeBlockRange, encodeStatus } from './ethstatus'
import { EthCode, type EthMessageName, hasPartialReceipts, messageName, receiptsWithoutBloom } from './ethversions'
import {
  type RlpItem,
  asBigInt,
  asBool,
  asBytes,
  asBytesList,
  asHash,
  asHashList,
  asList,
  asCount,
  asNumber,
  asTuple,
  boolBytes,
  fail,
  uintBytes,
} from './rlpfields'

import type { Block, BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { Input } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'

export * from './ethversions'
export {
  type BlockRange,
  type EthStatus,
  type EthStatusRange,
  type EthStatusTd,
  type ForkIdValue,
  checkBlockRange,
  decodeBlockRange,
  encodeStatus,
  hasBlockRange,
  statusHead,
  usesBlockRange,
} from './ethstatus'

/**
 * The one ETH wire codec (eth/66 to eth/70), shared by every transport: the
 * message data types and the payload encoders/decoders (message names, codes
 * and each version's message set are in ethversions.ts, re-exported here). Encoders return RLP-able nested arrays (the transport
 * RLP-encodes once); decoders take RLP bytes or already-decoded items and throw
 * only EthCodecError. What differs between versions differs here only: the
 * Status form (ethstatus.ts), the receipt form (ethreceipts.ts), eth/70's
 * partial receipt lists, and the message set.
 */

export interface EthMessages {
  Status: EthStatus
  NewBlockHashes: { hashes: [Uint8Array, bigint][] }
  Transactions: { txs: TypedTransaction[] }
  GetBlockHeaders: { reqId: bigint; block: bigint | Uint8Array; max: number; skip: number; reverse: boolean }
  BlockHeaders: { reqId: bigint; headers: BlockHeader[] }
  GetBlockBodies: { reqId: bigint; hashes: Uint8Array[] }
  BlockBodies: { reqId: bigint; bodies: BlockBodyBytes[] }
  NewBlock: { block: Block; td: bigint }
  /** `types` and `sizes` exist on eth/68 only (and are required there). */
  NewPooledTransactionHashes: { types?: number[]; sizes?: number[]; hashes: Uint8Array[] }
  GetPooledTransactions: { reqId: bigint; hashes: Uint8Array[] }
  PooledTransactions: { reqId: bigint; txs: TypedTransaction[] }
  GetNodeData: { reqId: bigint; hashes: Uint8Array[] }
  NodeData: { reqId: bigint; data: Uint8Array[] }
  /**
   * `firstBlockReceiptIndex` (eth/70+): receipts of the first block before this
   * index are left out. Absent means 0; below eth/70 it must be absent or 0.
   */
  GetReceipts: { reqId: bigint; hashes: Uint8Array[]; firstBlockReceiptIndex?: bigint }
  /**
   * Consensus-encoded receipts per block, whatever the version carried.
   * `lastBlockIncomplete` (eth/70+): the last list stops short of the block's
   * end; absent means false, and below eth/70 it must be absent or false.
   */
  Receipts: { reqId: bigint; receipts: Uint8Array[][]; lastBlockIncomplete?: boolean }
  BlockRangeUpdate: BlockRange
}

/** A decoded message: discriminated on `name`. */
export type EthMessage = { [N in EthMessageName]: { name: N; code: number; data: EthMessages[N] } }[EthMessageName]

export interface EthCodecContext {
  version: number
  common: Common
}

/** Decodes a Status received on a session of `version` (its form is the session's). */
export function decodeStatus(payload: Uint8Array | RlpItem[], version: number): EthStatus {
  return decodeWith('Status', payload, (item) => decodeStatusItems(item, version))
}

// ---- per-message codecs ----

interface MessageCodec<N extends EthMessageName> {
  encode(data: EthMessages[N], ctx: EthCodecContext): Input
  decode(item: RlpItem, ctx: EthCodecContext): EthMessages[N]
}

type CodecTable = { [N in EthMessageName]: MessageCodec<N> }

/** `[reqId, payload]` envelope of every eth/66+ request and response. */
function withReqId(item: RlpItem): [bigint, RlpItem] {
  const [reqId, body] = asTuple(item, 2, 'message')
  return [asBigInt(reqId, 8, 'reqId'), body]
}

type HashRequestName = 'GetBlockBodies' | 'GetPooledTransactions' | 'GetNodeData' | 'GetReceipts'

/** Codec of a `[reqId, [hash, ...]]` request (all four have this shape up to eth/69). */
function hashRequest<N extends HashRequestName>(): MessageCodec<N> {
  const codec: MessageCodec<HashRequestName> = {
    encode: (d) => [uintBytes(d.reqId), d.hashes],
    decode: (item) => {
      const [reqId, body] = withReqId(item)
      return { reqId, hashes: asHashList(body, 'hashes') }
    },
  }
  return codec as MessageCodec<N>
}

function mapList<T>(item: RlpItem, what: string, fn: (x: RlpItem, what: string) => T): T[] {
  const list = asList(item, what)
  const out = new Array<T>(list.length)
  for (let i = 0; i < list.length; i++) out[i] = fn(list[i], `${what}[${i}]`)
  return out
}

const CODECS: CodecTable = {
  Status: { encode: (d) => encodeStatus(d), decode: (item, ctx) => decodeStatusItems(item, ctx.version) },
  NewBlockHashes: {
    encode: (d) => d.hashes.map(([hash, n]) => [hash, uintBytes(n)]),
    decode: (item) => ({
      hashes: mapList(item, 'hashes', (x, w) => {
        const pair = asTuple(x, 2, w)
        return [asHash(pair[0], `${w}.hash`), asBigInt(pair[1], 8, `${w}.number`)] as [Uint8Array, bigint]
      }),
    }),
  },
  Transactions: {
    encode: (d) => d.txs.map((tx) => encodeTx(tx, 'broadcast')),
    decode: (item, ctx) => ({ txs: mapList(item, 'txs', (x, w) => decodeTx(x, ctx.common, 'broadcast', w)) }),
  },
  GetBlockHeaders: {
    encode: (d) => [
      uintBytes(d.reqId),
      [typeof d.block === 'bigint' ? uintBytes(d.block) : d.block, uintBytes(d.max), uintBytes(d.skip), boolBytes(d.reverse)],
    ],
    decode: (item) => {
      const [reqId, body] = withReqId(item)
      const q = asTuple(body, 4, 'query')
      const origin = asBytes(q[0], 'block')
      // A 32-byte origin is a hash; anything else must be a uint64 block number.
      const block = origin.length === 32 ? origin : asBigInt(origin, 8, 'block')
      return { reqId, block, max: asCount(q[1], 'max'), skip: asCount(q[2], 'skip'), reverse: asBool(q[3], 'reverse') }
    },
  },
  BlockHeaders: {
    encode: (d) => [uintBytes(d.reqId), d.headers.map((h) => h.raw())],
    decode: (item, ctx) => {
      const [reqId, body] = withReqId(item)
      return { reqId, headers: mapList(body, 'headers', (x, w) => decodeHeader(x, ctx.common, w)) }
    },
  },
  GetBlockBodies: hashRequest(),
  BlockBodies: {
    encode: (d) => [uintBytes(d.reqId), d.bodies as Input],
    decode: (item) => {
      const [reqId, body] = withReqId(item)
      return { reqId, bodies: mapList(body, 'bodies', decodeBody) }
    },
  },
  NewBlock: {
    encode: (d) => [d.block.raw(), uintBytes(d.td)],
    decode: (item, ctx) => {
      const [block, td] = asTuple(item, 2, 'message')
      return { block: decodeBlock(block, ctx.common, 'block'), td: asBigInt(td, MAX_TD_BYTES, 'td') }
    },
  },
  NewPooledTransactionHashes: {
    encode: (d, ctx) => (ctx.version >= 68 ? encodeAnnouncement68(d) : d.hashes),
    decode: (item, ctx) => (ctx.version >= 68 ? decodeAnnouncement68(item) : { hashes: asHashList(item, 'hashes') }),
  },
  GetPooledTransactions: hashRequest(),
  PooledTransactions: {
    encode: (d) => [uintBytes(d.reqId), d.txs.map((tx) => encodeTx(tx, 'pooled'))],
    decode: (item, ctx) => {
      const [reqId, body] = withReqId(item)
      return { reqId, txs: mapList(body, 'txs', (x, w) => decodeTx(x, ctx.common, 'pooled', w)) }
    },
  },
  GetNodeData: hashRequest(),
  NodeData: {
    encode: (d) => [uintBytes(d.reqId), d.data],
    decode: (item) => {
      const [reqId, body] = withReqId(item)
      return { reqId, data: asBytesList(body, 'data') }
    },
  },
  GetReceipts: {
    encode: (d, ctx) => {
      const first = d.firstBlockReceiptIndex ?? 0n
      if (hasPartialReceipts(ctx.version)) return [uintBytes(d.reqId), uintBytes(first), d.hashes]
      if (first !== 0n) throw new EthEncodeError(`eth/${ctx.version} GetReceipts cannot start inside a block (eth/70+ only)`)
      return [uintBytes(d.reqId), d.hashes]
    },
    decode: (item, ctx) => {
      if (!hasPartialReceipts(ctx.version)) return hashRequest<'GetReceipts'>().decode(item, ctx)
      const [reqId, first, hashes] = asTuple(item, 3, 'message')
      return {
        reqId: asBigInt(reqId, 8, 'reqId'),
        firstBlockReceiptIndex: asBigInt(first, 8, 'firstBlockReceiptIndex'),
        hashes: asHashList(hashes, 'hashes'),
      }
    },
  },
  Receipts: {
    encode: (d, ctx) => {
      const lists = d.receipts.map((block) => block.map(receiptsWithoutBloom(ctx.version) ? encodeNetworkReceipt : encodeReceipt))
      if (hasPartialReceipts(ctx.version)) return [uintBytes(d.reqId), boolBytes(d.lastBlockIncomplete ?? false), lists]
      if (d.lastBlockIncomplete === true) throw new EthEncodeError(`eth/${ctx.version} Receipts cannot carry a partial list (eth/70+ only)`)
      return [uintBytes(d.reqId), lists]
    },
    decode: (item, ctx) => {
      const decodeOne = receiptsWithoutBloom(ctx.version) ? decodeNetworkReceipt : decodeReceipt
      const decodeLists = (body: RlpItem): Uint8Array[][] => mapList(body, 'receipts', (x, w) => mapList(x, w, decodeOne))
      if (!hasPartialReceipts(ctx.version)) {
        const [reqId, body] = withReqId(item)
        return { reqId, receipts: decodeLists(body) }
      }
      const [reqId, incomplete, body] = asTuple(item, 3, 'message')
      return { reqId: asBigInt(reqId, 8, 'reqId'), lastBlockIncomplete: asBool(incomplete, 'lastBlockIncomplete'), receipts: decodeLists(body) }
    },
  },
  BlockRangeUpdate: {
    encode: (d) => encodeBlockRange(d),
    decode: (item) => decodeBlockRange(asTuple(item, 3, 'blockRange'), 'blockRange'),
  },
}

/** Largest value of a transaction size announced on eth/68 (a uint32 in geth). */
const MAX_ANNOUNCED_SIZE = 0xffffffff

function encodeAnnouncement68(d: EthMessages['NewPooledTransactionHashes']): Input {
  const { types, sizes, hashes } = d
  if (types === undefined || sizes === undefined || types.length !== hashes.length || sizes.length !== hashes.length) {
    throw new EthEncodeError('eth/68 NewPooledTransactionHashes needs types and sizes, one per hash')
  }
  for (const t of types) {
    if (!Number.isInteger(t) || t < 0 || t > 0xff) throw new EthEncodeError(`invalid transaction type ${t}`)
  }
  return [Uint8Array.from(types), sizes.map((s) => uintBytes(s)), hashes]
}

function decodeAnnouncement68(item: RlpItem): EthMessages['NewPooledTransactionHashes'] {
  const [typesItem, sizesItem, hashesItem] = asTuple(item, 3, 'announcement')
  const types = asBytes(typesItem, 'types')
  const hashes = asHashList(hashesItem, 'hashes')
  const sizes = mapList(sizesItem, 'sizes', (x, w) => {
    const size = asNumber(x, w)
    if (size > MAX_ANNOUNCED_SIZE) fail(`${w}: size exceeds uint32`)
    return size
  })
  if (types.length !== hashes.length || sizes.length !== hashes.length) {
    fail(`types (${types.length}), sizes (${sizes.length}) and hashes (${hashes.length}) differ in length`)
  }
  return { types: Array.from(types), sizes, hashes }
}

// ---- entry points ----

/** Encodes `data` as the RLP-able payload of message `name` on `ctx.version`; throws EthEncodeError if it cannot travel. */
export function encodeEthPayload<N extends EthMessageName>(name: N, data: EthMessages[N], ctx: EthCodecContext): Input {
  if (messageName(EthCode[name], ctx.version) !== name) {
    throw new EthEncodeError(`${name} is not a message of eth/${ctx.version}`)
  }
  try {
    return (CODECS[name] as MessageCodec<N>).encode(data, ctx)
  } catch (err) {
    if (err instanceof EthEncodeError) throw err
    throw new EthEncodeError(`cannot encode ${name}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Decodes the payload of message `code` received on `ctx.version`. `payload`
 * is the RLP bytes or the already-decoded item list. Throws EthCodecError on
 * an unknown/invalid code or any malformed content, and nothing else.
 */
export function decodeEthPayload(code: number, payload: Uint8Array | RlpItem[], ctx: EthCodecContext): EthMessage {
  const name = messageName(code, ctx.version)
  if (name === undefined) {
    throw new EthCodecError(`message code 0x${code.toString(16)} is not valid on eth/${ctx.version}`)
  }
  const data = decodeWith(name, payload, (item) => CODECS[name].decode(item, ctx))
  return { name, code, data } as EthMessage
}

function decodeWith<T>(name: string, payload: unknown, fn: (item: RlpItem[]) => T): T {
  try {
    let item: unknown = payload
    if (payload instanceof Uint8Array) item = decodeRlp(payload)
    return fn(asList(item as RlpItem, 'payload'))
  } catch (err) {
    if (err instanceof EthCodecError && err.messageName !== undefined) throw err
    const reason = err instanceof EthCodecError ? err.message : `invalid payload (${describe(err)})`
    throw new EthCodecError(reason, { messageName: name, cause: err })
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
