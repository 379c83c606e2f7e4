import { decodeUvarint, decodeUvarintBig, MAX_UVARINT_BYTES, VarintError, writeUvarint } from '../codec/uvarint'
import { concatBytes } from '../util/bytes'
import { MplexFrameTooLargeError, MplexInvalidFlagError, MplexInvalidFrameError } from './errors'

/**
 * mplex frame codec: `uvarint(id << 3 | flag) uvarint(length) data`.
 *
 * Stream ids may exceed 2^31, so ids are never put through 32-bit bit
 * operations: the header is `id * 8 + flag` in number arithmetic while that
 * stays exact, and bigint arithmetic beyond. An id is a number up to 2^53 - 1
 * and a bigint above, so Map lookups see one canonical form per id.
 */

export const MplexFlag = {
  NewStream: 0,
  MessageReceiver: 1,
  MessageInitiator: 2,
  CloseReceiver: 3,
  CloseInitiator: 4,
  ResetReceiver: 5,
  ResetInitiator: 6,
} as const
export type MplexFlagValue = (typeof MplexFlag)[keyof typeof MplexFlag]

export type StreamId = number | bigint

/** The mplex spec's (and go-mplex's / @libp2p/mplex's) per-frame data limit. */
export const MAX_FRAME_SIZE = 1 << 20

/** A header is two varints of at most 9 bytes each. */
export const MAX_HEADER_BYTES = 2 * MAX_UVARINT_BYTES

/** Largest id whose header `id * 8 + 7` is still an exact JavaScript number. */
const MAX_NUMBER_HEADER_ID = Math.floor((Number.MAX_SAFE_INTEGER - 7) / 8)
/** Largest id whose header fits the 63-bit varint limit. */
export const MAX_STREAM_ID = (1n << 60n) - 1n

/** Normalizes an id: number while exact, bigint above 2^53 - 1. */
export function canonicalId(id: bigint): StreamId {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id
}

/** Writes a frame header into `buf` at `offset`; returns the offset after it. */
export function writeFrameHeader(
  buf: Uint8Array,
  offset: number,
  id: StreamId,
  flag: number,
  length: number,
): number {
  const header = typeof id === 'number' && id <= MAX_NUMBER_HEADER_ID ? id * 8 + flag : BigInt(id) * 8n + BigInt(flag)
  offset = writeUvarint(header, buf, offset)
  return writeUvarint(length, buf, offset)
}

/** Encodes one whole frame (header and data) into a fresh buffer. */
export function encodeFrame(id: StreamId, flag: number, data?: Uint8Array): Uint8Array {
  const length = data === undefined ? 0 : data.length
  const scratch = new Uint8Array(MAX_HEADER_BYTES + length)
  const end = writeFrameHeader(scratch, 0, id, flag, length)
  if (data !== undefined) scratch.set(data, end)
  return scratch.subarray(0, end + length)
}

/**
 * Receives decoded frames. Message data is delivered in pieces as it arrives
 * (a frame split over several chunks yields several calls), so nothing is
 * reassembled; `fromInitiator` tells which side of the stream sent the frame.
 */
export interface FrameSink {
  onNewStream(id: StreamId, name: Uint8Array): void
  onMessage(id: StreamId, fromInitiator: boolean, data: Uint8Array): void
  onClose(id: StreamId, fromInitiator: boolean): void
  onReset(id: StreamId, fromInitiator: boolean): void
}

const enum State {
  Header,
  Body,
}

/**
 * Incremental frame decoder over a list of chunks: only a header split across
 * chunks is copied (at most 18 bytes); message data is handed on as
 * subarrays of the input chunks. Throws MplexInvalidFlagError,
 * MplexFrameTooLargeError or MplexInvalidFrameError on the first bad header,
 * before any of that frame's data is taken.
 */
export class FrameDecoder {
  private state = State.Header
  private readonly pending = new Uint8Array(MAX_HEADER_BYTES)
  private pendingLength = 0
  private id: StreamId = 0
  private flag = 0
  private remaining = 0
  private nameParts: Uint8Array[] = []
  private stopped = false

  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameSize = MAX_FRAME_SIZE,
  ) {}

  /** Stops delivering frames (the connection was aborted); later input is ignored. */
  stop(): void {
    this.stopped = true
    this.nameParts = []
  }

  push(chunk: Uint8Array): void {
    const length = chunk.length
    let offset = 0
    while (offset < length && !this.stopped) {
      if (this.state === State.Header) {
        offset = this.pendingLength === 0 ? this.readHeaderAt(chunk, offset) : this.completeSplitHeader(chunk, offset)
      } else {
        const take = Math.min(this.remaining, length - offset)
        this.deliverBody(take === length ? chunk : chunk.subarray(offset, offset + take))
        offset += take
        this.remaining -= take
        if (this.remaining === 0) this.endFrame()
      }
    }
  }

  /** Header starting inside `chunk`; returns the new offset (chunk end when the header is split). */
  private readHeaderAt(chunk: Uint8Array, offset: number): number {
    const used = this.parseHeader(chunk, offset)
    if (used === 0) {
      // Split header: fewer than MAX_HEADER_BYTES remain, else parseHeader would have thrown.
      this.pending.set(chunk.subarray(offset), 0)
      this.pendingLength = chunk.length - offset
      return chunk.length
    }
    this.beginBody()
    return offset + used
  }

  /** Continues a header whose first bytes arrived in an earlier chunk. */
  private completeSplitHeader(chunk: Uint8Array, offset: number): number {
    const before = this.pendingLength
    const take = Math.min(MAX_HEADER_BYTES - before, chunk.length - offset)
    this.pending.set(chunk.subarray(offset, offset + take), before)
    const used = this.parseHeader(this.pending.subarray(0, before + take), 0)
    if (used === 0) {
      this.pendingLength = before + take
      return offset + take
    }
    this.pendingLength = 0
    this.beginBody()
    return offset + used - before
  }

  /** Parses `header length` at `offset`; 0 if incomplete. Sets id, flag, remaining. */
  private parseHeader(buf: Uint8Array, offset: number): number {
    try {
      const headerBytes = this.parseHeaderVarint(buf, offset)
      if (headerBytes === 0) return 0
      const len = decodeUvarint(buf, offset + headerBytes)
      if (len.bytes === 0) return 0
      if (this.flag === 7) {
        throw new MplexInvalidFlagError(`mplex frame for stream ${this.id} has undefined flag 7`)
      }
      if (len.value > this.maxFrameSize) {
        throw new MplexFrameTooLargeError(
          `mplex frame of ${len.value} bytes on stream ${this.id} exceeds the ${this.maxFrameSize}-byte limit`,
        )
      }
      this.remaining = len.value
      return headerBytes + len.bytes
    } catch (err) {
      if (err instanceof VarintError) {
        throw new MplexInvalidFrameError(`malformed mplex frame header: ${err.message}`, { cause: err })
      }
      throw err
    }
  }

  /** Decodes `id << 3 | flag`; numbers while the value is below 2^49, bigint above. */
  private parseHeaderVarint(buf: Uint8Array, offset: number): number {
    let end = offset
    const limit = Math.min(buf.length, offset + MAX_UVARINT_BYTES)
    while (end < limit && buf[end]! >= 0x80) end++
    if (end === limit && limit - offset < MAX_UVARINT_BYTES) return 0
    if (end - offset < 7) {
      const { value, bytes } = decodeUvarint(buf, offset)
      const id = Math.floor(value / 8)
      this.id = id
      this.flag = value - id * 8
      return bytes
    }
    const { value, bytes } = decodeUvarintBig(buf, offset) // throws on a 10th byte
    this.id = canonicalId(value >> 3n)
    this.flag = Number(value & 7n)
    return bytes
  }

  private beginBody(): void {
    this.state = State.Body
    if (this.remaining === 0) this.endFrame()
  }

  private deliverBody(piece: Uint8Array): void {
    switch (this.flag) {
      case MplexFlag.MessageReceiver:
      case MplexFlag.MessageInitiator:
        this.sink.onMessage(this.id, this.flag === MplexFlag.MessageInitiator, piece)
        break
      case MplexFlag.NewStream:
        this.nameParts.push(piece)
        break
      default:
      // Close/reset frames carry no data per spec; tolerate and drop any.
    }
  }

  private endFrame(): void {
    this.state = State.Header
    const id = this.id
    switch (this.flag) {
      case MplexFlag.NewStream:
        this.sink.onNewStream(id, takeName(this.nameParts))
        this.nameParts = []
        break
      case MplexFlag.CloseReceiver:
      case MplexFlag.CloseInitiator:
        this.sink.onClose(id, this.flag === MplexFlag.CloseInitiator)
        break
      case MplexFlag.ResetReceiver:
      case MplexFlag.ResetInitiator:
        this.sink.onReset(id, this.flag === MplexFlag.ResetInitiator)
        break
      default:
      // Message data was already delivered piecewise.
    }
  }
}

function takeName(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : concatBytes(...parts)
}
