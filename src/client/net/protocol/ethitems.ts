import {
  type Block,
  type BlockBodyBytes,
  type BlockBytes,
  type BlockHeader,
  type BlockHeaderBytes,
  createBlockFromBytesArray,
  createBlockHeaderFromBytesArray,
} from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt } from '@ethereumjs/util'
import {
  type TypedTransaction,
  TransactionType,
  createBlob4844TxFromSerializedNetworkWrapper,
  createTxFromBlockBodyData,
  isBlob4844Tx,
} from '@ethereumjs/tx'

import { EthEncodeError } from './errors'
import { headerCommon } from './headercommon'
import { decodeRlp } from './rlpdecode'
import {
  type RlpItem,
  asBigInt,
  asBytes,
  asBytesList,
  asFixedBytes,
  asHashList,
  asList,
  asTuple,
  fail,
} from './rlpfields'

import { Common } from '@ethereumjs/common'

import type { Input } from '@ethereumjs/rlp'

/**
 * Codecs of the items ETH messages carry: headers, transactions, block
 * bodies, receipts, blocks. Decoders validate shape here and hand field
 * semantics to @ethereumjs (which throws on bad values; the message
 * dispatcher turns those throws into EthCodecError).
 */

/** Where a transaction travels: a broadcast (Transactions) or an answer to GetPooledTransactions. */
export type TxForm = 'broadcast' | 'pooled'

// ---- headers and blocks ----

/** Positions in a header's field list (yellow paper order). */
const HEADER_NUMBER_INDEX = 8
const HEADER_TIMESTAMP_INDEX = 11

export function decodeHeader(item: RlpItem, common: Common, what: string): BlockHeader {
  const values = asBytesList(item, what)
  // A header this short fails in the constructor; the template only needs number and timestamp.
  const forkCommon =
    values.length > HEADER_TIMESTAMP_INDEX
      ? headerCommon(common, bytesToBigInt(values[HEADER_NUMBER_INDEX]!), bytesToBigInt(values[HEADER_TIMESTAMP_INDEX]!))
      : common
  // setHardfork: headers of any height must decode with the rules of their own fork.
  return createBlockHeaderFromBytesArray(values as BlockHeaderBytes, { common: forkCommon, setHardfork: true })
}

export function decodeBlock(item: RlpItem, common: Common, what: string): Block {
  const list = asList(item, what)
  if (list.length !== 3 && list.length !== 4) fail(`${what}: expected 3 or 4 items, got ${list.length}`)
  asBytesList(list[0], `${what}.header`)
  checkBody(list.slice(1), what)
  return createBlockFromBytesArray(list as BlockBytes, { common, setHardfork: true })
}

// ---- block bodies ----

/** Validates `[txs, uncles, withdrawals?]` without decoding the transactions (the consumer builds blocks from them). */
export function decodeBody(item: RlpItem, what: string): BlockBodyBytes {
  const list = asList(item, what)
  checkBody(list, what)
  return list as BlockBodyBytes
}

function checkBody(list: RlpItem[], what: string): void {
  if (list.length !== 2 && list.length !== 3) fail(`${what}: expected 2 or 3 body parts, got ${list.length}`)
  const txs = asList(list[0], `${what}.txs`)
  for (let i = 0; i < txs.length; i++) checkTxShape(txs[i], `${what}.txs[${i}]`)
  const uncles = asList(list[1], `${what}.uncles`)
  for (let i = 0; i < uncles.length; i++) asBytesList(uncles[i], `${what}.uncles[${i}]`)
  if (list.length === 3) {
    const withdrawals = asList(list[2], `${what}.withdrawals`)
    for (let i = 0; i < withdrawals.length; i++) {
      const w = asTuple(withdrawals[i], 4, `${what}.withdrawals[${i}]`)
      asBigInt(w[0], 8, `${what}.withdrawals[${i}].index`)
      asBigInt(w[1], 8, `${what}.withdrawals[${i}].validatorIndex`)
      asFixedBytes(w[2], 20, `${what}.withdrawals[${i}].address`)
      asBigInt(w[3], 8, `${what}.withdrawals[${i}].amount`)
    }
  }
}

/** A tx in a list is either a legacy field list or a typed envelope byte string `type || rlp(...)`. */
function checkTxShape(item: RlpItem, what: string): void {
  if (Array.isArray(item)) {
    asBytesList(item, what)
    return
  }
  if (item.length === 0) fail(`${what}: empty transaction`)
  if (item[0] > 0x7f) fail(`${what}: typed transaction with invalid type byte 0x${item[0].toString(16)}`)
}

// ---- transactions ----

/**
 * Decodes one transaction of a Transactions / PooledTransactions message. Blob
 * transactions travel only in pooled form, as the network wrapper
 * `0x03 || rlp([tx, blobs, commitments, proofs])` (EIP-4844), and need KZG to validate.
 *
 * The chain id is not judged here, as geth's decoder does not judge it: a
 * transaction signed for another chain is a well-formed message, and the peer
 * that relays it may not know our chain. @ethereumjs/tx refuses to build a
 * transaction whose chain id differs from its Common's, so such a one is
 * built with a Common of the chain it names (see foreignChainCommon); the
 * pool then drops it (TxPool.add), and the message's other transactions
 * and the peer's session are kept.
 */
export function decodeTx(item: RlpItem, common: Common, form: TxForm, what: string): TypedTransaction {
  checkTxShape(item, what)
  const blob = item instanceof Uint8Array && item[0] === TransactionType.BlobEIP4844
  if (blob) {
    if (form === 'broadcast') fail(`${what}: blob transactions must not be broadcast (EIP-4844)`)
    if (common.customCrypto.kzg === undefined) fail(`${what}: blob transaction received but no KZG is configured`)
  }
  const build = (c: Common): TypedTransaction =>
    blob
      ? createBlob4844TxFromSerializedNetworkWrapper(item as Uint8Array, { common: c })
      : createTxFromBlockBodyData(item as Uint8Array | Uint8Array[], { common: c })
  try {
    return build(common)
  } catch (err) {
    // Our chain first (the common case costs one decode); another chain's transaction fails there and is built again for its own chain.
    const chainId = namedChainId(item, blob)
    if (chainId === undefined || chainId === common.chainId()) throw err
    return build(foreignChainCommon(common, chainId))
  }
}

/** EIP-155: a legacy `v` of 35 or more carries `chainId * 2 + 35` (or + 36); 27 and 28 carry no chain. */
const EIP155_V_OFFSET = 35n

/**
 * The chain id a transaction envelope names, read without building it:
 * the first field of a typed transaction's payload (of the inner transaction
 * in a blob network wrapper), or the EIP-155 `v` of a legacy one. Undefined
 * for a pre-EIP-155 legacy transaction or a shape that is no transaction.
 */
function namedChainId(item: RlpItem, blobWrapper: boolean): bigint | undefined {
  try {
    if (Array.isArray(item)) {
      const v = item[6]
      if (!(v instanceof Uint8Array)) return undefined
      const n = bytesToBigInt(v)
      return n >= EIP155_V_OFFSET ? (n - EIP155_V_OFFSET) / 2n : undefined
    }
    let fields = decodeRlp(item.subarray(1))
    if (blobWrapper && Array.isArray(fields)) fields = fields[0] as RlpItem
    const chainId = Array.isArray(fields) ? fields[0] : undefined
    return chainId instanceof Uint8Array ? bytesToBigInt(chainId) : undefined
  } catch {
    // Not RLP: the first decode's error is the one to report.
    return undefined
  }
}

/**
 * A copy of `common` that names chain `chainId`: the one thing @ethereumjs/tx
 * asks its Common for when it checks a transaction's chain (and when it
 * recovers a legacy EIP-155 sender). Everything else (fork, params, crypto)
 * stays ours. Built with copy() and a prototype swap, as headercommon.ts does,
 * so it costs what the copy each transaction makes of its Common costs.
 */
function foreignChainCommon(common: Common, chainId: bigint): Common {
  const copy = common.copy() as ForeignChainCommon
  Object.setPrototypeOf(copy, ForeignChainCommon.prototype)
  copy.foreignChainId = chainId
  return copy
}

class ForeignChainCommon extends Common {
  declare foreignChainId: bigint

  override chainId(): bigint {
    return this.foreignChainId
  }
}

export function encodeTx(tx: TypedTransaction, form: TxForm): Input {
  if (isBlob4844Tx(tx)) {
    if (form === 'broadcast') throw new EthEncodeError('blob transactions must not be broadcast (EIP-4844); announce them')
    if (tx.blobs === undefined || tx.blobs.length === 0) {
      throw new EthEncodeError('a pooled blob transaction must carry its blobs (network wrapper form)')
    }
    return tx.serializeNetworkWrapper()
  }
  if (tx.type === TransactionType.Legacy) return tx.raw() as Uint8Array[]
  return tx.serialize()
}

// ---- receipts ----

/**
 * A receipt on the wire is the consensus encoding embedded in the list: a
 * legacy receipt as the RLP list itself, a typed one as the byte string
 * `type || rlp(list)`. The client keeps each receipt as its consensus bytes.
 */
export function decodeReceipt(item: RlpItem, what: string): Uint8Array {
  if (Array.isArray(item)) {
    checkReceiptFields(item, what)
    return RLP.encode(item)
  }
  if (item.length === 0 || item[0] === 0 || item[0] > 0x7f) fail(`${what}: invalid typed receipt envelope`)
  let inner: RlpItem
  try {
    inner = decodeRlp(item.subarray(1))
  } catch (err) {
    return fail(`${what}: typed receipt payload is not RLP (${(err as Error).message})`)
  }
  checkReceiptFields(inner, what)
  return item
}

function checkReceiptFields(item: RlpItem, what: string): void {
  const r = asTuple(item, 4, what)
  const status = asBytes(r[0], `${what}.status`)
  // Byzantium+ receipts carry a status byte; older ones an intermediate 32-byte state root.
  if (status.length > 1 && status.length !== 32) fail(`${what}.status: expected status byte or 32-byte root`)
  asBigInt(r[1], 8, `${what}.cumulativeGasUsed`)
  asFixedBytes(r[2], 256, `${what}.logsBloom`)
  const logs = asList(r[3], `${what}.logs`)
  for (let i = 0; i < logs.length; i++) {
    const log = asTuple(logs[i], 3, `${what}.logs[${i}]`)
    asFixedBytes(log[0], 20, `${what}.logs[${i}].address`)
    asHashList(log[1], `${what}.logs[${i}].topics`)
    asBytes(log[2], `${what}.logs[${i}].data`)
  }
}

export function encodeReceipt(receipt: Uint8Array): Input {
  if (!(receipt instanceof Uint8Array) || receipt.length === 0) throw new EthEncodeError('receipt must be non-empty bytes')
  // Legacy receipts are an RLP list (first byte >= 0xc0) and go on the wire as that list.
  if (receipt[0] >= 0xc0) return RLP.decode(receipt) as Input
  return receipt
}
