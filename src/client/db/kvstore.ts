/**
 * The key-value store the node's persistent data lives in: byte keys, byte values, sorted
 * keys, atomic batches. One implementation backs a dataDir (LevelKvStore); the interface
 * keeps the layers above (staged writes, the chain's records, the state's node store, the
 * node table) independent of it, and lets tests inject faults.
 */
export interface KvStore {
  /** Where the data lives (a directory), for error messages. */
  readonly location: string
  /** The value of `key`, or undefined. Synchronous: both embedded engines read without a round trip. */
  get(key: Uint8Array): Uint8Array | undefined
  /** Applies every op or none of them (a crash or a failed write keeps the store as before). */
  batch(ops: readonly KvOp[]): Promise<void>
  /** Entries with gte <= key < lt, in key order (reversed with `reverse`), at most `limit`. */
  range(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]>
  /** Flushes and releases the store (and its directory lock). Idempotent. */
  close(): Promise<void>
}

export type KvOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

export interface KvRange {
  gte: Uint8Array
  lt: Uint8Array
  reverse?: boolean
  limit?: number
}

/** The range of every key that starts with `prefix`. */
export function prefixRange(prefix: Uint8Array): KvRange {
  const lt = Uint8Array.from(prefix)
  // The first key after every key with this prefix: the prefix with its last non-0xff byte + 1.
  let i = lt.length - 1
  while (i >= 0 && lt[i] === 0xff) i--
  if (i < 0) throw new RangeError('prefixRange: a prefix of only 0xff bytes has no upper bound')
  lt[i]! += 1
  return { gte: prefix, lt: lt.subarray(0, i + 1) }
}

/** `prefix || key` in a new array. */
export function prefixed(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + key.length)
  out.set(prefix, 0)
  out.set(key, prefix.length)
  return out
}

/** An 8-byte big-endian number: keys sort by it. */
export function uint64Key(n: bigint): Uint8Array {
  if (n < 0n || n >= 1n << 64n) throw new RangeError(`uint64Key: ${n} out of range`)
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, n)
  return out
}

/** Reads the 8-byte big-endian number at `offset`. */
export function readUint64Key(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset)
}
