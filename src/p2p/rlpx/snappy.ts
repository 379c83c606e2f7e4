import { RlpxMessageTooLargeError, RlpxSnappyError } from './errors'

/**
 * Snappy (the raw block format of google/snappy's format_description.txt),
 * which compresses every RLPx message after Hello between p2p v5 peers.
 *
 * Both directions are implemented here, from the format description, in
 * plain JavaScript (so `npm ci` needs no prebuilt binary anywhere). The pure
 * JS candidates measured first (`npm run bench -- snappy`): snappyjs beat the
 * native `snappy` (napi-rs) on small messages under both runtimes (each
 * native call costs more than the work) but moves every literal byte by
 * byte, the whole cost of an incompressible message, and does not check that
 * a stream decodes to exactly its announced length (it zero-fills a short
 * one and silently drops what overruns). Here a long literal is one `set()`,
 * and decompression checks and decodes in one pass: the length header
 * against the limit before anything is allocated, then every element's
 * bounds and copy offsets.
 */

/** A 32-bit varint takes at most 5 bytes. */
const MAX_LENGTH_HEADER_BYTES = 5

/** The decoded length snappy's header announces; throws RlpxSnappyError for a malformed header. */
export function snappyDecodedLength(data: Uint8Array): number {
  return readLengthHeader(data).length
}

/**
 * Compresses `data` into the raw snappy format. Input is cut into blocks of
 * 64 KiB, each compressed on its own (copies never reach into an earlier
 * block), as the reference implementation does.
 */
export function snappyCompress(data: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(maxCompressedLength(data.length))
  let op = writeVarint32(out, 0, data.length)
  for (let start = 0; start < data.length; start += BLOCK_SIZE) {
    op = compressBlock(data, start, Math.min(start + BLOCK_SIZE, data.length), out, op, HASH_TABLE)
  }
  return new Uint8Array(out.buffer, out.byteOffset, op)
}

/**
 * Decompresses `data`. Throws RlpxMessageTooLargeError when the header
 * announces more than `maxLength` (before anything is allocated), and
 * RlpxSnappyError when the data is not a valid stream of exactly that length.
 */
export function snappyUncompress(data: Uint8Array, maxLength: number, what = 'decompressed message'): Uint8Array {
  const { length, headerBytes } = readLengthHeader(data)
  if (length > maxLength) throw new RlpxMessageTooLargeError(length, maxLength, what)
  return decodeElements(data, headerBytes, length)
}

function readLengthHeader(data: Uint8Array): { length: number; headerBytes: number } {
  let length = 0
  let scale = 1
  for (let i = 0; i < MAX_LENGTH_HEADER_BYTES && i < data.length; i++) {
    const b = data[i]!
    length += (b & 0x7f) * scale
    if (b < 0x80) {
      if (length > 0xffffffff) throw new RlpxSnappyError('length header exceeds 32 bits')
      return { length, headerBytes: i + 1 }
    }
    scale *= 128
  }
  throw new RlpxSnappyError(data.length === 0 ? 'empty input' : 'unterminated length header')
}

/**
 * Decodes the element stream after the header into exactly `expected`
 * bytes. Literals must lie within the input, copies must point back into
 * what was already produced, and nothing may write past `expected` or leave
 * it short: each is an RlpxSnappyError.
 */
function decodeElements(src: Uint8Array, start: number, expected: number): Uint8Array {
  const out = Buffer.allocUnsafe(expected)
  const end = src.length
  let pos = start
  let produced = 0
  while (pos < end) {
    const tag = src[pos++]!
    if ((tag & 3) === 0) {
      let length = tag >>> 2
      if (length >= 60) {
        const extra = length - 59
        if (pos + extra > end) throw new RlpxSnappyError('literal length runs past the input')
        length = readLittleEndian(src, pos, extra)
        pos += extra
      }
      length += 1
      if (length > end - pos) throw new RlpxSnappyError('literal runs past the input')
      if (length > expected - produced) throw new RlpxSnappyError(`decodes to more than the ${expected} bytes announced`)
      if (length >= NATIVE_COPY_MIN) out.set(src.subarray(pos, pos + length), produced)
      else for (let i = 0; i < length; i++) out[produced + i] = src[pos + i]!
      pos += length
      produced += length
      continue
    }
    let length: number
    let offset: number
    if ((tag & 3) === 1) {
      if (pos + 1 > end) throw new RlpxSnappyError('copy runs past the input')
      length = 4 + ((tag >>> 2) & 7)
      offset = ((tag >>> 5) << 8) | src[pos]!
      pos += 1
    } else {
      const width = (tag & 3) === 2 ? 2 : 4
      if (pos + width > end) throw new RlpxSnappyError('copy runs past the input')
      length = 1 + (tag >>> 2)
      offset = readLittleEndian(src, pos, width)
      pos += width
    }
    if (offset === 0 || offset > produced) throw new RlpxSnappyError(`copy offset ${offset} outside the ${produced} bytes produced`)
    if (length > expected - produced) throw new RlpxSnappyError(`decodes to more than the ${expected} bytes announced`)
    copyBack(out, produced, offset, length)
    produced += length
  }
  if (produced !== expected) throw new RlpxSnappyError(`decodes to ${produced} bytes, header announced ${expected}`)
  return new Uint8Array(out.buffer, out.byteOffset, expected)
}

/**
 * Below this many bytes a literal or copy is moved byte by byte: most
 * elements are short (4-64 bytes), and a native set/copyWithin call (with
 * the subarray it needs) costs more than that.
 */
const NATIVE_COPY_MIN = 32

/** Appends `length` bytes starting `offset` back from `at`; an overlapping copy repeats the pattern, as snappy means it. */
function copyBack(out: Uint8Array, at: number, offset: number, length: number): void {
  const from = at - offset
  if (length >= NATIVE_COPY_MIN && offset >= length) {
    out.copyWithin(at, from, from + length)
    return
  }
  for (let i = 0; i < length; i++) out[at + i] = out[from + i]!
}

function readLittleEndian(src: Uint8Array, pos: number, width: number): number {
  let v = 0
  for (let i = width - 1; i >= 0; i--) v = v * 256 + src[pos + i]!
  return v
}

// ---- compression ----

/** The reference implementation's block size: offsets within a block fit 16 bits. */
const BLOCK_SIZE = 1 << 16
/** Hash table of at most 2^14 positions (32 KiB), smaller for small blocks. */
const MAX_HASH_TABLE_BITS = 14
/** One table for every call: compression is synchronous, and a small message clears only the entries its size uses. */
const HASH_TABLE = new Uint16Array(1 << MAX_HASH_TABLE_BITS)
/** Bytes at a block's end that are never the start of a match (room to read 4 bytes ahead). */
const INPUT_MARGIN = 15
/** After this many lookups without a match, the search steps faster (1 byte more per 32 misses). */
const SKIP_START = 32

/** The largest output for `n` input bytes: every byte a literal, plus headers. */
function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6)
}

function writeVarint32(out: Uint8Array, at: number, value: number): number {
  let v = value
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  out[at++] = v
  return at
}

function load32(src: Uint8Array, i: number): number {
  return (src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24)) >>> 0
}

function hash32(v: number, shift: number): number {
  return Math.imul(v, 0x1e35a7bd) >>> shift
}

function compressBlock(src: Uint8Array, start: number, end: number, out: Uint8Array, op: number, table: Uint16Array): number {
  const n = end - start
  let bits = 8
  while (bits < MAX_HASH_TABLE_BITS && 1 << bits < n) bits++
  const shift = 32 - bits
  table.fill(0, 0, 1 << bits)
  if (n < INPUT_MARGIN) return emitLiteral(src, start, end, out, op)
  const limit = end - INPUT_MARGIN
  let nextEmit = start
  let ip = start + 1
  let nextHash = hash32(load32(src, ip), shift)
  for (;;) {
    // Find a 4-byte match, stepping faster the longer none is found.
    let skip = SKIP_START
    let nextIp = ip
    let candidate: number
    do {
      ip = nextIp
      const h = nextHash
      nextIp = ip + (skip++ >>> 5)
      if (nextIp > limit) return emitLiteral(src, nextEmit, end, out, op)
      nextHash = hash32(load32(src, nextIp), shift)
      candidate = start + table[h]!
      table[h] = ip - start
    } while (load32(src, ip) !== load32(src, candidate))
    op = emitLiteral(src, nextEmit, ip, out, op)
    // Emit copies as long as the byte after one starts another match.
    let next: number
    do {
      const base = ip
      let matched = 4
      while (ip + matched < end && src[candidate + matched] === src[ip + matched]) matched++
      ip += matched
      op = emitCopy(out, op, base - candidate, matched)
      nextEmit = ip
      if (ip >= limit) return emitLiteral(src, nextEmit, end, out, op)
      table[hash32(load32(src, ip - 1), shift)] = ip - 1 - start
      const h = hash32(load32(src, ip), shift)
      candidate = start + table[h]!
      table[h] = ip - start
      next = load32(src, ip)
    } while (next === load32(src, candidate))
    ip++
    nextHash = hash32(load32(src, ip), shift)
  }
}

function emitLiteral(src: Uint8Array, from: number, to: number, out: Uint8Array, op: number): number {
  const length = to - from
  if (length === 0) return op
  const n = length - 1
  if (n < 60) {
    out[op++] = n << 2
  } else {
    const bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4
    out[op++] = (59 + bytes) << 2
    for (let i = 0, v = n; i < bytes; i++, v = Math.floor(v / 256)) out[op++] = v & 0xff
  }
  if (length >= NATIVE_COPY_MIN) out.set(src.subarray(from, to), op)
  else for (let i = 0; i < length; i++) out[op + i] = src[from + i]!
  return op + length
}

/** A copy of `length` bytes from `offset` back (offset < 64 KiB: one block), as one or more copy elements. */
function emitCopy(out: Uint8Array, op: number, offset: number, length: number): number {
  let left = length
  while (left >= 68) {
    op = emitCopy2(out, op, offset, 64)
    left -= 64
  }
  if (left > 64) {
    op = emitCopy2(out, op, offset, 60)
    left -= 60
  }
  if (left >= 12 || offset >= 2048) return emitCopy2(out, op, offset, left)
  out[op++] = 1 | ((left - 4) << 2) | ((offset >>> 8) << 5)
  out[op++] = offset & 0xff
  return op
}

function emitCopy2(out: Uint8Array, op: number, offset: number, length: number): number {
  out[op++] = 2 | ((length - 1) << 2)
  out[op++] = offset & 0xff
  out[op++] = offset >>> 8
  return op
}
