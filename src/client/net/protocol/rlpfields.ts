import { EthCodecError, EthEncodeError } from './errors'

/**
 * Strict readers and writers for the fields of decoded RLP. Readers throw
 * EthCodecError naming the field; they never copy bytes (decoded RLP items
 * are already fresh arrays), so a whole message decodes without re-allocation.
 */

/** A decoded RLP item: a byte string or a list of items. */
export type RlpItem = Uint8Array | RlpItem[]

/** Largest integer we turn into a JS number: 2^53 - 1 needs 7 bytes. */
const MAX_NUMBER_BYTES = 7

export function fail(reason: string): never {
  throw new EthCodecError(reason)
}

export function asList(item: RlpItem | undefined, what: string): RlpItem[] {
  if (!Array.isArray(item)) fail(`${what}: expected a list`)
  return item
}

/** A list of exactly `length` items (strict, as geth's RLP decoding is for these messages). */
export function asTuple(item: RlpItem | undefined, length: number, what: string): RlpItem[] {
  const list = asList(item, what)
  if (list.length !== length) fail(`${what}: expected ${length} items, got ${list.length}`)
  return list
}

export function asBytes(item: RlpItem | undefined, what: string): Uint8Array {
  if (!(item instanceof Uint8Array)) fail(`${what}: expected a byte string`)
  return item
}

export function asFixedBytes(item: RlpItem | undefined, length: number, what: string): Uint8Array {
  const b = asBytes(item, what)
  if (b.length !== length) fail(`${what}: expected ${length} bytes, got ${b.length}`)
  return b
}

export function asHash(item: RlpItem | undefined, what: string): Uint8Array {
  return asFixedBytes(item, 32, what)
}

/** A list whose every element is a 32-byte hash. */
export function asHashList(item: RlpItem | undefined, what: string): Uint8Array[] {
  const list = asList(item, what)
  for (let i = 0; i < list.length; i++) asHash(list[i], `${what}[${i}]`)
  return list as Uint8Array[]
}

/** A list whose every element is a byte string. */
export function asBytesList(item: RlpItem | undefined, what: string): Uint8Array[] {
  const list = asList(item, what)
  for (let i = 0; i < list.length; i++) asBytes(list[i], `${what}[${i}]`)
  return list as Uint8Array[]
}

function canonicalInt(item: RlpItem | undefined, maxBytes: number, what: string): Uint8Array {
  const b = asBytes(item, what)
  if (b.length > maxBytes) fail(`${what}: integer longer than ${maxBytes} bytes`)
  if (b.length > 0 && b[0] === 0) fail(`${what}: non-canonical integer (leading zero byte)`)
  return b
}

/** A canonical unsigned integer of at most `maxBytes` bytes (empty string = 0). */
export function asBigInt(item: RlpItem | undefined, maxBytes: number, what: string): bigint {
  const b = canonicalInt(item, maxBytes, what)
  let v = 0n
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i])
  return v
}

/** A canonical unsigned integer that fits a JS number (at most 2^53 - 1). */
export function asNumber(item: RlpItem | undefined, what: string): number {
  const b = canonicalInt(item, MAX_NUMBER_BYTES, what)
  let v = 0
  for (let i = 0; i < b.length; i++) v = v * 256 + b[i]
  if (v > Number.MAX_SAFE_INTEGER) fail(`${what}: integer exceeds 2^53 - 1`)
  return v
}

/** Bytes of a uint64, the width of every count and block number of the eth protocol. */
const UINT64_BYTES = 8

/**
 * A canonical uint64 count (GetBlockHeaders `max` and `skip`) as a JS
 * number, saturated at 2^53 - 1. geth reads these as uint64 and clamps what
 * it serves, so 2^64 - 1 is a valid request; saturating changes no answer:
 * `max` is capped far below (maxServeItems), and a `skip` of 2^53 - 1 or more
 * steps past any chain's head, as a larger one would.
 */
export function asCount(item: RlpItem | undefined, what: string): number {
  const v = asBigInt(item, UINT64_BYTES, what)
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
}

/** RLP booleans as geth reads them: empty string = false, 0x01 = true, nothing else. */
export function asBool(item: RlpItem | undefined, what: string): boolean {
  const b = asBytes(item, what)
  if (b.length === 0) return false
  if (b.length === 1 && b[0] === 1) return true
  return fail(`${what}: invalid boolean`)
}

/** Minimal big-endian bytes of a non-negative integer (0 -> empty). */
export function uintBytes(value: bigint | number): Uint8Array {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new EthEncodeError(`not a non-negative safe integer: ${value}`)
    if (value === 0) return new Uint8Array(0)
    if (value < 256) return Uint8Array.of(value)
    value = BigInt(value)
  }
  if (value < 0n) throw new EthEncodeError(`negative integer: ${value}`)
  if (value === 0n) return new Uint8Array(0)
  let hex = value.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function boolBytes(value: boolean): Uint8Array {
  return value ? Uint8Array.of(1) : new Uint8Array(0)
}
