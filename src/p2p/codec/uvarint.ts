import { P2PError } from '../errors'

/**
 * Unsigned LEB128 varints as used by multiformats (mplex headers, multistream
 * and length-prefixed messages).
 *
 * Values are limited to 63 bits, which 9 bytes encode exactly: a 10th byte
 * would only be needed for values >= 2^63, which the multiformats spec forbids.
 * Arithmetic avoids 32-bit bit operations so ids above 2^31 survive.
 */
export const MAX_UVARINT_BYTES = 9
export const MAX_UVARINT = (1n << 63n) - 1n

export class VarintError extends P2PError {
  constructor(message: string) {
    super('ERR_VARINT_INVALID', message)
  }
}

/** Result of a decode; `bytes === 0` means the buffer ended before the varint did. */
export interface UvarintRead<T> {
  value: T
  bytes: number
}

const INCOMPLETE_NUMBER: UvarintRead<number> = Object.freeze({ value: 0, bytes: 0 })
const INCOMPLETE_BIGINT: UvarintRead<bigint> = Object.freeze({ value: 0n, bytes: 0 })

/**
 * Decodes a varint that must fit a JavaScript number (<= 2^53 - 1).
 * Throws VarintError for an over-long encoding or a value that would lose precision.
 */
export function decodeUvarint(buf: Uint8Array, offset = 0): UvarintRead<number> {
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    const pos = offset + i
    if (pos >= buf.length) return INCOMPLETE_NUMBER
    const b = buf[pos]!
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new VarintError(`varint value exceeds 2^53-1; use decodeUvarintBig`)
      }
      return { value, bytes: i + 1 }
    }
    scale *= 128
  }
  throw new VarintError(`varint longer than ${MAX_UVARINT_BYTES} bytes`)
}

/** Decodes a varint of up to 63 bits as a bigint. */
export function decodeUvarintBig(buf: Uint8Array, offset = 0): UvarintRead<bigint> {
  let value = 0n
  let shift = 0n
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    const pos = offset + i
    if (pos >= buf.length) return INCOMPLETE_BIGINT
    const b = buf[pos]!
    value |= BigInt(b & 0x7f) << shift
    if (b < 0x80) return { value, bytes: i + 1 }
    shift += 7n
  }
  throw new VarintError(`varint longer than ${MAX_UVARINT_BYTES} bytes`)
}

/** Number of bytes `value` takes when encoded. */
export function uvarintLength(value: number | bigint): number {
  if (typeof value === 'number') {
    checkNumber(value)
    let n = 1
    while (value >= 128) {
      value = Math.floor(value / 128)
      n++
    }
    return n
  }
  checkBigint(value)
  let n = 1
  while (value >= 128n) {
    value >>= 7n
    n++
  }
  return n
}

/** Writes `value` into `buf` at `offset`; returns the offset just past it. */
export function writeUvarint(value: number | bigint, buf: Uint8Array, offset = 0): number {
  if (typeof value === 'number') {
    checkNumber(value)
    while (value >= 128) {
      buf[offset++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    buf[offset++] = value
    return offset
  }
  checkBigint(value)
  while (value >= 128n) {
    buf[offset++] = Number(value & 0x7fn) | 0x80
    value >>= 7n
  }
  buf[offset++] = Number(value)
  return offset
}

export function encodeUvarint(value: number | bigint): Uint8Array {
  const out = new Uint8Array(uvarintLength(value))
  writeUvarint(value, out, 0)
  return out
}

function checkNumber(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VarintError(`cannot encode ${value} as an unsigned varint`)
  }
}

function checkBigint(value: bigint): void {
  if (value < 0n || value > MAX_UVARINT) {
    throw new VarintError(`cannot encode ${value} as an unsigned varint (max 2^63-1)`)
  }
}
