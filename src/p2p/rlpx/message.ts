import { RLP } from '@ethereumjs/rlp'
import { DisconnectReason } from './disconnect-reason'
import { RlpxMalformedMessageError } from './errors'
import { snappyUncompress } from './snappy'

/**
 * RLPx message framing: one frame carries one message,
 *
 *   frame-data = msg-id || msg-data            (Hello, and every message with a pre-v5 peer)
 *   frame-data = msg-id || snappy(msg-data)    (after Hello, both sides p2p v5)
 *
 * where msg-id is an RLP-encoded integer (0 is 0x80; ids up to 0x7f are one
 * byte) and msg-data an RLP list. Plus the base protocol's small messages.
 */

/** Largest message id we decode: far above any capability layout (eth and snap end below 0x40). */
const MAX_MESSAGE_ID = 0xffffffff

/** RLP of each id below 0x80, so framing a message allocates nothing for its id. */
const ID_BYTES: readonly Uint8Array[] = Array.from({ length: 0x80 }, (_, i) => (i === 0 ? Uint8Array.of(0x80) : Uint8Array.of(i)))

/** The RLP encoding of message id `id`. */
export function encodeMessageId(id: number): Uint8Array {
  if (id < 0x80) return ID_BYTES[id]!
  return RLP.encode(id)
}

/** Splits a frame body into its message id and the (possibly compressed) data after it. */
export function splitMessageId(frame: Uint8Array): { id: number; data: Uint8Array } {
  if (frame.length === 0) throw new RlpxMalformedMessageError('empty frame (no message id)')
  const first = frame[0]!
  if (first < 0x80) {
    if (first === 0) throw new RlpxMalformedMessageError('message id 0 must be encoded as 0x80')
    return { id: first, data: frame.subarray(1) }
  }
  if (first === 0x80) return { id: 0, data: frame.subarray(1) }
  const width = first - 0x80
  if (width > 4) throw new RlpxMalformedMessageError(`message id of ${width} bytes`)
  if (frame.length < 1 + width) throw new RlpxMalformedMessageError('frame ends inside its message id')
  if (frame[1] === 0 || (width === 1 && frame[1]! < 0x80)) throw new RlpxMalformedMessageError('non-canonical message id')
  let id = 0
  for (let i = 1; i <= width; i++) id = id * 256 + frame[i]!
  if (id > MAX_MESSAGE_ID) throw new RlpxMalformedMessageError(`message id ${id} out of range`)
  return { id, data: frame.subarray(1 + width) }
}

/** A Disconnect payload is `[reason]`, 2 bytes; 64 leaves room for odd encodings and nothing more. */
const MAX_DISCONNECT_PAYLOAD = 64

/** RLP of the empty list: the payload of Ping and Pong. */
export const EMPTY_LIST = Uint8Array.of(0xc0)

/** Disconnect payload as geth sends it: `[reason]`. */
export function encodeDisconnect(reason: DisconnectReason): Uint8Array {
  return RLP.encode([reason])
}

/**
 * The reason of a Disconnect, read leniently because clients differ: geth
 * sends `[reason]`, snappy-compressed once both Hellos are through;
 * @ethereumjs/devp2p sends a bare `reason`, never compressed; the spec calls
 * the reason optional. The payload is tried as snappy first, then as plain
 * RLP; no plain reason (a one-byte scalar below 0x80 other than 0, or a
 * `0xc1 ..` list) is also a valid snappy stream under the 64-byte bound, so
 * the order cannot misread one. An unreadable payload still ends the
 * session, reported as DISCONNECT_REQUESTED.
 */
export function decodeDisconnectReason(data: Uint8Array): number {
  try {
    const reason = reasonFromRlp(snappyUncompress(data, MAX_DISCONNECT_PAYLOAD))
    if (reason !== undefined) return reason
  } catch {
    // not compressed (devp2p, or before Hello): read as plain RLP below
  }
  return reasonFromRlp(data) ?? DisconnectReason.DISCONNECT_REQUESTED
}

function reasonFromRlp(data: Uint8Array): number | undefined {
  if (data.length === 0) return DisconnectReason.DISCONNECT_REQUESTED
  let item: unknown
  try {
    item = RLP.decode(data)
  } catch {
    return undefined
  }
  if (Array.isArray(item)) {
    if (item.length === 0) return DisconnectReason.DISCONNECT_REQUESTED
    item = item[0]
  }
  if (!(item instanceof Uint8Array) || item.length > 1) return undefined
  return item.length === 0 ? 0 : item[0]!
}

/**
 * `bytes` as an unsigned big-endian integer; undefined above 2^48 and, unless
 * `leadingZeros`, for a non-canonical encoding (a leading zero byte).
 */
export function uintFromBytes(bytes: Uint8Array, leadingZeros = false): number | undefined {
  let start = 0
  if (leadingZeros) while (start < bytes.length && bytes[start] === 0) start++
  else if (bytes.length > 0 && bytes[0] === 0) return undefined
  if (bytes.length - start > 6) return undefined
  let v = 0
  for (let i = start; i < bytes.length; i++) v = v * 256 + bytes[i]!
  return v
}
