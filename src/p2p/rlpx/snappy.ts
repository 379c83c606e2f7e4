import * as snappyjs from 'snappyjs'
import { RlpxMessageTooLargeError, RlpxSnappyError } from './errors'

/**
 * Snappy (the raw block format of google/snappy's format_description.txt),
 * which compresses every RLPx message after Hello between p2p v5 peers.
 *
 * The codec is snappyjs. Measured against the native `snappy` (napi-rs) with
 * `npm run bench -- snappy`, it wins under Bun on nearly every payload (up to
 * 13x on small messages, where each native call costs more than the work) and
 * under Node on small messages and decompression, losing only at compressing
 * compressible payloads of 4 KiB and up (0.6-0.7x); and it is pure
 * JavaScript, so `npm ci` needs no prebuilt binary anywhere.
 * snappyjs does not check that a stream decodes to exactly its announced
 * length (it zero-fills a short one and silently drops what overruns), so
 * every inbound stream is first walked here: length header against the
 * limit, then each element's bounds and copy offsets, without copying any
 * data. Only a stream that passes is handed to snappyjs.
 */

/** A 32-bit varint takes at most 5 bytes. */
const MAX_LENGTH_HEADER_BYTES = 5

/** The decoded length snappy's header announces; throws RlpxSnappyError for a malformed header. */
export function snappyDecodedLength(data: Uint8Array): number {
  return readLengthHeader(data).length
}

export function snappyCompress(data: Uint8Array): Uint8Array {
  return snappyjs.compress(data)
}

/**
 * Decompresses `data`. Throws RlpxMessageTooLargeError when the header
 * announces more than `maxLength` (before anything is allocated), and
 * RlpxSnappyError when the data is not a valid stream of exactly that length.
 */
export function snappyUncompress(data: Uint8Array, maxLength: number, what = 'decompressed message'): Uint8Array {
  const { length, headerBytes } = readLengthHeader(data)
  if (length > maxLength) throw new RlpxMessageTooLargeError(length, maxLength, what)
  checkElements(data, headerBytes, length)
  return snappyjs.uncompress(data)
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
 * Walks the element stream after the header: literals must lie within the
 * input, copies must point back into what was already produced, and the
 * total must be exactly `expected`.
 */
function checkElements(src: Uint8Array, start: number, expected: number): void {
  const end = src.length
  let pos = start
  let produced = 0
  while (pos < end) {
    const tag = src[pos++]!
    let length: number
    if ((tag & 3) === 0) {
      length = tag >>> 2
      if (length >= 60) {
        const extra = length - 59
        if (pos + extra > end) throw new RlpxSnappyError('literal length runs past the input')
        length = readLittleEndian(src, pos, extra)
        pos += extra
      }
      length += 1
      if (length > end - pos) throw new RlpxSnappyError('literal runs past the input')
      pos += length
    } else {
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
    }
    produced += length
    if (produced > expected) throw new RlpxSnappyError(`decodes to more than the ${expected} bytes announced`)
  }
  if (produced !== expected) throw new RlpxSnappyError(`decodes to ${produced} bytes, header announced ${expected}`)
}

function readLittleEndian(src: Uint8Array, pos: number, width: number): number {
  let v = 0
  for (let i = width - 1; i >= 0; i--) v = v * 256 + src[pos + i]!
  return v
}
