import { Address, type PrefixedHexString, bigIntToHex, bytesToHex, hexToBytes } from '@ethereumjs/util'

import { InvalidParamsError } from './errors'

/**
 * Parameter decoding and value encoding in the Ethereum JSON-RPC conventions:
 * QUANTITY is `0x`-prefixed hex without leading zeros, DATA is `0x`-prefixed
 * hex of whole bytes. Every decoder names the parameter position in its error,
 * as geth does ("invalid argument 0: ...").
 */

const QUANTITY_RE = /^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/
const DATA_RE = /^0x([0-9a-fA-F]{2})*$/
/** A quantity above 2^256 is no Ethereum value. */
const MAX_QUANTITY_HEX_DIGITS = 64

/** A block a call asks about: a tag, a number, or a hash. */
export type BlockSelector =
  | { kind: 'tag'; tag: 'latest' | 'earliest' | 'pending' | 'safe' | 'finalized' }
  | { kind: 'number'; number: bigint }
  | { kind: 'hash'; hash: Uint8Array }

const TAGS = new Set(['latest', 'earliest', 'pending', 'safe', 'finalized'])

/** The params array; a missing one is []. Methods whose params are an object are not used here. */
export function paramList(params: unknown): unknown[] {
  if (params === undefined) return []
  if (!Array.isArray(params)) throw new InvalidParamsError(`params: expected an array of positional arguments, got ${typeof params}`)
  return params
}

/** Refuses more arguments than the method takes (geth: "too many arguments, want at most N"). */
export function expectArgs(params: unknown[], min: number, max: number): void {
  if (params.length > max) throw new InvalidParamsError(`: too many arguments, want at most ${max}`)
  if (params.length < min) throw new InvalidParamsError(`: missing value for required argument ${params.length}`)
}

export function quantity(value: unknown, position: number): bigint {
  if (typeof value !== 'string') throw new InvalidParamsError(`${position}: expected a hex quantity string, got ${describe(value)}`)
  if (!QUANTITY_RE.test(value) || value.length - 2 > MAX_QUANTITY_HEX_DIGITS) {
    throw new InvalidParamsError(`${position}: "${clip(value)}" is not a hex quantity (0x-prefixed, no leading zeros, at most 256 bits)`)
  }
  return BigInt(value)
}

export function data(value: unknown, position: number): Uint8Array {
  if (typeof value !== 'string') throw new InvalidParamsError(`${position}: expected 0x-prefixed hex data, got ${describe(value)}`)
  if (!DATA_RE.test(value)) throw new InvalidParamsError(`${position}: "${clip(value)}" is not 0x-prefixed hex of whole bytes`)
  return hexToBytes(value as PrefixedHexString)
}

export function hash32(value: unknown, position: number): Uint8Array {
  const bytes = data(value, position)
  if (bytes.length !== 32) throw new InvalidParamsError(`${position}: expected a 32-byte hash, got ${bytes.length} bytes`)
  return bytes
}

export function address(value: unknown, position: number): Address {
  const bytes = data(value, position)
  if (bytes.length !== 20) throw new InvalidParamsError(`${position}: expected a 20-byte address, got ${bytes.length} bytes`)
  return new Address(bytes)
}

export function bool(value: unknown, position: number): boolean {
  if (typeof value !== 'boolean') throw new InvalidParamsError(`${position}: expected true or false, got ${describe(value)}`)
  return value
}

export function text(value: unknown, position: number): string {
  if (typeof value !== 'string') throw new InvalidParamsError(`${position}: expected a string, got ${describe(value)}`)
  return value
}

/** A block number or tag ("latest", "0x1b4", ...). */
export function blockNumberOrTag(value: unknown, position: number): BlockSelector {
  if (typeof value === 'string' && TAGS.has(value)) return { kind: 'tag', tag: value as 'latest' }
  return { kind: 'number', number: quantity(value, position) }
}

/** A block number, tag or hash; also EIP-1898's `{ blockNumber }` / `{ blockHash }` objects. */
export function blockSelector(value: unknown, position: number): BlockSelector {
  if (typeof value === 'string' && value.length === 66) return { kind: 'hash', hash: hash32(value, position) }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as { blockHash?: unknown; blockNumber?: unknown }
    if (o.blockHash !== undefined) return { kind: 'hash', hash: hash32(o.blockHash, position) }
    if (o.blockNumber !== undefined) return blockNumberOrTag(o.blockNumber, position)
    throw new InvalidParamsError(`${position}: expected { blockHash } or { blockNumber }`)
  }
  return blockNumberOrTag(value, position)
}

/** QUANTITY encoding. */
export function hexQuantity(n: bigint | number): PrefixedHexString {
  return bigIntToHex(BigInt(n))
}

/** DATA encoding. */
export function hexData(bytes: Uint8Array): PrefixedHexString {
  return bytesToHex(bytes)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' ? `"${clip(value)}"` : typeof value
}

/** Echoes of caller input stay short in error messages. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
