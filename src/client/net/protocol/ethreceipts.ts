import { keccak_256 } from '@noble/hashes/sha3.js'

import { EthCodecError, EthEncodeError } from './errors'
import { decodeRlp } from './rlpdecode'
import { encodeRlp } from './rlpencode'
import { type RlpItem, asBigInt, asBytes, asFixedBytes, asHashList, asList, asNumber, asTuple, fail, uintBytes } from './rlpfields'

import type { Input } from '@ethereumjs/rlp'

/**
 * Receipts as eth/69+ carries them (EIP-7642): one flat list per receipt,
 * `[tx-type, post-state-or-status, cumulative-gas, logs]`, with no bloom.
 * The client keeps receipts in consensus form (what the receipts root
 * commits to: `[status, cumulative-gas, bloom, logs]`, prefixed by the type
 * byte for typed transactions), so the codec converts both ways: outbound it
 * drops the bloom and moves the type into the list; inbound it recomputes the
 * bloom from the logs and rebuilds the consensus bytes. Every version's
 * decoder therefore yields the same consensus receipts.
 */

/** Bytes of a logs bloom: 2048 bits. */
export const BLOOM_BYTES = 256

/** Largest EIP-2718 transaction type (types >= 0x80 would collide with RLP list prefixes). */
const MAX_TX_TYPE = 0x7f

/** Sets the three bloom bits of `value`: each of the first three byte pairs of its keccak-256, mod 2048. */
function addToBloom(bloom: Uint8Array, value: Uint8Array): void {
  const h = keccak_256(value)
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047
    bloom[BLOOM_BYTES - 1 - (bit >> 3)]! |= 1 << (bit & 7)
  }
}

/** A log as decoded from RLP: `[address, [topic, ...], data]`. */
export type LogItem = RlpItem

/** The logs bloom of one receipt (yellow paper, eq. 26-30): every log's address and each of its topics. */
export function logsBloom(logs: readonly LogItem[]): Uint8Array {
  const bloom = new Uint8Array(BLOOM_BYTES)
  for (const log of logs) {
    const [address, topics] = log as [Uint8Array, Uint8Array[]]
    addToBloom(bloom, address)
    for (const topic of topics) addToBloom(bloom, topic)
  }
  return bloom
}

/** Checks one log's shape (address, 32-byte topics, data) and returns it. */
function checkLog(item: RlpItem, what: string): LogItem {
  const log = asTuple(item, 3, what)
  asFixedBytes(log[0], 20, `${what}.address`)
  asHashList(log[1], `${what}.topics`)
  asBytes(log[2], `${what}.data`)
  return log
}

/** Byzantium+ receipts carry a status byte (empty = failure); older ones a 32-byte intermediate state root. */
function checkStatus(item: RlpItem | undefined, what: string): Uint8Array {
  const status = asBytes(item, what)
  if (status.length > 1 && status.length !== 32) fail(`${what}: expected status byte or 32-byte root`)
  return status
}

/**
 * Decodes one eth/69 receipt and returns it in consensus form, its bloom
 * recomputed from the logs. Throws EthCodecError on any malformed field.
 */
export function decodeNetworkReceipt(item: RlpItem, what: string): Uint8Array {
  const r = asTuple(item, 4, what)
  const type = asNumber(r[0], `${what}.txType`)
  if (type > MAX_TX_TYPE) fail(`${what}.txType: ${type} is not an EIP-2718 type`)
  const status = checkStatus(r[1], `${what}.status`)
  asBigInt(r[2], 8, `${what}.cumulativeGasUsed`)
  const logs = asList(r[3], `${what}.logs`)
  for (let i = 0; i < logs.length; i++) checkLog(logs[i]!, `${what}.logs[${i}]`)
  const body = encodeRlp([status, r[2] as Uint8Array, logsBloom(logs), logs as Input[]])
  if (type === 0) return body
  const typed = new Uint8Array(1 + body.length)
  typed[0] = type
  typed.set(body, 1)
  return typed
}

/**
 * A consensus receipt as eth/69 sends it: `[type, status, gas, logs]`.
 * Throws EthEncodeError if `receipt` is not a consensus receipt.
 */
export function encodeNetworkReceipt(receipt: Uint8Array): Input {
  if (!(receipt instanceof Uint8Array) || receipt.length === 0) throw new EthEncodeError('receipt must be non-empty bytes')
  // A legacy receipt is the RLP list itself (first byte >= 0xc0); a typed one starts with its type byte.
  const type = receipt[0]! >= 0xc0 ? 0 : receipt[0]!
  if (type > MAX_TX_TYPE || (type === 0 && receipt[0]! < 0xc0)) throw new EthEncodeError(`receipt has invalid type byte 0x${receipt[0]!.toString(16)}`)
  let fields: RlpItem[]
  try {
    fields = asTuple(decodeRlp(type === 0 ? receipt : receipt.subarray(1)), 4, 'receipt')
  } catch (err) {
    if (!(err instanceof EthCodecError)) throw err
    throw new EthEncodeError(`not a consensus receipt: ${err.message}`, { cause: err })
  }
  const [status, gas, , logs] = fields
  return [uintBytes(type), status as Input, gas as Input, logs as Input]
}
