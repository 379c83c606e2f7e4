import type { Readable, Writable } from 'node:stream'
import { abortReason } from '../util/abort'
import { MessageTooLargeError, StreamClosedError, TruncatedMessageError } from './errors'
import { destroyWith, readAvailable } from './stream-read'
import { decodeUvarint, MAX_UVARINT_BYTES, uvarintLength, VarintError, writeUvarint } from './uvarint'

export { MessageTooLargeError, StreamClosedError, TruncatedMessageError } from './errors'

/**
 * Length-prefixed message framing: `uvarint(n) || n bytes`.
 *
 * Used by multistream-select's framing and, with ETH payloads
 * (`uvarint(n) || code || RLP`), for every protocol message on a stream.
 */

/**
 * Default maximum payload length: 10 MiB, the ETH-over-stream message cap of
 * the design (the largest legitimate eth messages — block bodies and receipts
 * responses — are bounded well below it by the soft response limits peers use).
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 10 * 1024 * 1024

/**
 * Payloads up to this size are copied together with their prefix into one
 * buffer and written once: one write means one lower-layer frame (an RLPx frame
 * or mplex frame has ~50 bytes of overhead and a MAC to compute). Above it the
 * copy costs more than the extra write, so big parts are written as they are.
 */
export const COALESCE_LIMIT = 16 * 1024

const EMPTY = new Uint8Array(0)

/** Compact the chunk list once this many consumed slots sit at its front. */
const COMPACT_AFTER = 64

export interface LengthPrefixedOptions {
  /** Largest accepted payload in bytes. Default DEFAULT_MAX_MESSAGE_LENGTH. */
  maxLength?: number
}

/** A payload given whole or as parts that are sent back to back (e.g. `[code, rlp]`). */
export type MessagePayload = Uint8Array | readonly Uint8Array[]

function checkMaxLength(maxLength: number | undefined): number {
  const max = maxLength ?? DEFAULT_MAX_MESSAGE_LENGTH
  if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`invalid maxLength ${String(maxLength)}`)
  return max
}

/**
 * Synchronous incremental decoder. Chunks are kept in a list as they arrive
 * and each message is materialised once, when all of its bytes are present:
 * a message inside one chunk is returned as a view of that chunk (no copy);
 * a message spanning chunks is copied once into a buffer of its exact size.
 * Feeding a 1 MiB message in 1-byte chunks therefore costs O(n), not O(n^2).
 *
 * The length is checked against `maxLength` as soon as the prefix is decoded,
 * before the payload is waited for. After an error the decoder stays failed
 * and rethrows it (see `push` for the messages completed before it). It throws nothing but MessageTooLargeError and VarintError.
 */
export class LengthPrefixedDecoder {
  readonly maxLength: number
  private chunks: Uint8Array[] = []
  /** Index of the first unconsumed chunk. */
  private head = 0
  /** Read position inside chunks[head]. */
  private offset = 0
  private buffered = 0
  /** Prefix size of the message being assembled; 0 while its prefix is incomplete. */
  private prefixBytes = 0
  private length = 0
  private failed: Error | undefined
  private readonly scratch = new Uint8Array(MAX_UVARINT_BYTES)

  constructor(opts: LengthPrefixedOptions = {}) {
    this.maxLength = checkMaxLength(opts.maxLength)
  }

  /** Unconsumed bytes held, including a partial prefix or payload. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /**
   * Appends `chunk` and returns every message it completed, in order.
   *
   * Failure contract (same as `next()` and readMessages): messages that were
   * complete before the bad bytes (an over-long prefix, a malformed varint)
   * are never lost. If some were completed, they are returned and the error is
   * kept: `failure` is set and the next call (`push`, `append`, `next`) throws
   * it. If none were, `push` throws at once. Callers that may see no further
   * call (end of input) check `failure` after the last push.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk)
    const out: Uint8Array[] = []
    try {
      for (let msg = this.next(); msg !== undefined; msg = this.next()) out.push(msg)
    } catch (err) {
      if (out.length === 0) throw err
    }
    return out
  }

  /** The error this decoder failed with (it then rethrows it on every call), or undefined. */
  get failure(): Error | undefined {
    return this.failed
  }

  /** Appends `chunk` without decoding; pair with `next()` to pull one message at a time. */
  append(chunk: Uint8Array): void {
    if (this.failed !== undefined) throw this.failed
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
  }

  /** The next complete message, or undefined until more bytes arrive. */
  next(): Uint8Array | undefined {
    if (this.failed !== undefined) throw this.failed
    if (this.prefixBytes === 0 && !this.readPrefix()) return undefined
    if (this.buffered < this.prefixBytes + this.length) return undefined
    this.skip(this.prefixBytes)
    const msg = this.take(this.length)
    this.prefixBytes = 0
    this.length = 0
    return msg
  }

  /**
   * Removes and returns the raw unconsumed bytes (a partial message is
   * returned with its prefix), e.g. to hand them back to a stream.
   */
  takeBuffered(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i]!
      out.push(i === this.head && this.offset > 0 ? c.subarray(this.offset) : c)
    }
    this.chunks = []
    this.head = 0
    this.offset = 0
    this.buffered = 0
    this.prefixBytes = 0
    this.length = 0
    return out
  }

  private readPrefix(): boolean {
    if (this.buffered === 0) return false
    const first = this.chunks[this.head]!
    let read
    try {
      read = decodeUvarint(first, this.offset)
      if (read.bytes === 0 && this.buffered > first.length - this.offset) {
        read = decodeUvarint(this.gatherPrefix(), 0)
      }
    } catch (err) {
      this.failed = err as VarintError
      throw err
    }
    if (read.bytes === 0) return false
    if (read.value > this.maxLength) {
      this.failed = new MessageTooLargeError(read.value, this.maxLength)
      throw this.failed
    }
    this.prefixBytes = read.bytes
    this.length = read.value
    return true
  }

  /** Copies up to MAX_UVARINT_BYTES leading bytes into scratch (a prefix split across chunks). */
  private gatherPrefix(): Uint8Array {
    let n = 0
    let offset = this.offset
    for (let i = this.head; i < this.chunks.length && n < this.scratch.length; i++) {
      const c = this.chunks[i]!
      while (offset < c.length && n < this.scratch.length) this.scratch[n++] = c[offset++]!
      offset = 0
    }
    return this.scratch.subarray(0, n)
  }

  private take(n: number): Uint8Array {
    if (n === 0) return EMPTY
    const first = this.chunks[this.head]!
    if (first.length - this.offset >= n) {
      const msg = first.subarray(this.offset, this.offset + n)
      this.skip(n)
      return msg
    }
    // allocUnsafe: every byte is overwritten below before the buffer escapes.
    const msg = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[this.head]!
      const k = Math.min(c.length - this.offset, n - filled)
      msg.set(this.offset === 0 && k === c.length ? c : c.subarray(this.offset, this.offset + k), filled)
      filled += k
      this.skip(k)
    }
    return msg
  }

  private skip(n: number): void {
    this.buffered -= n
    while (n > 0) {
      const c = this.chunks[this.head]!
      const left = c.length - this.offset
      if (n < left) {
        this.offset += n
        return
      }
      n -= left
      this.chunks[this.head] = EMPTY // release the chunk now, not at compaction
      this.head++
      this.offset = 0
    }
    if (this.head === this.chunks.length) {
      this.chunks.length = 0
      this.head = 0
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}

function totalLength(payload: MessagePayload): number {
  if (payload instanceof Uint8Array) return payload.length
  let total = 0
  for (const part of payload) total += part.length
  return total
}

/** `uvarint(n) || payload` in one new buffer. */
export function encodeMessage(payload: MessagePayload, opts: LengthPrefixedOptions = {}): Uint8Array {
  const total = totalLength(payload)
  const max = checkMaxLength(opts.maxLength)
  if (total > max) throw new MessageTooLargeError(total, max)
  const out = Buffer.allocUnsafe(uvarintLength(total) + total)
  let offset = writeUvarint(total, out, 0)
  if (payload instanceof Uint8Array) {
    out.set(payload, offset)
  } else {
    for (const part of payload) {
      out.set(part, offset)
      offset += part.length
    }
  }
  return out
}

/**
 * Writes one length-prefixed message and returns what `stream.write()`
 * returned: false means the stream's buffer is over its high-water mark and
 * the caller should wait for 'drain' before writing more (this function never
 * waits, so it can be called from synchronous code).
 *
 * Messages up to COALESCE_LIMIT go out as a single write. Larger ones are
 * written under cork(): the prefix together with any small parts in one
 * buffer, large parts as they are (not copied — do not modify them after the
 * call). Throws MessageTooLargeError above `maxLength` (default 10 MiB)
 * without writing anything.
 */
export function writeMessage(stream: Writable, payload: MessagePayload, opts: LengthPrefixedOptions = {}): boolean {
  const total = totalLength(payload)
  if (total <= COALESCE_LIMIT) return stream.write(encodeMessage(payload, opts))
  const max = checkMaxLength(opts.maxLength)
  if (total > max) throw new MessageTooLargeError(total, max)
  const prefix = Buffer.allocUnsafe(uvarintLength(total))
  writeUvarint(total, prefix, 0)
  const parts = payload instanceof Uint8Array ? [payload] : payload
  let group: Uint8Array[] = [prefix]
  let ok = true
  const flush = (): void => {
    if (group.length === 0) return
    ok = stream.write(group.length === 1 ? group[0]! : Buffer.concat(group))
    group = []
  }
  stream.cork()
  try {
    for (const part of parts) {
      if (part.length < COALESCE_LIMIT) {
        if (part.length > 0) group.push(part)
        continue
      }
      flush()
      ok = stream.write(part)
    }
    flush()
  } finally {
    stream.uncork()
  }
  return ok
}

export interface ReadMessagesOptions extends LengthPrefixedOptions {
  /** Stops the iteration with the abort reason; the stream itself is left open. */
  signal?: AbortSignal
}

/**
 * Reads length-prefixed messages from `stream` until it ends.
 *
 * The stream is read in paused mode, so a consumer that is slow to pull
 * leaves bytes in the stream and backpressure reaches the sender. Ends
 * cleanly at EOF on a message boundary; throws TruncatedMessageError at EOF
 * inside a message, StreamClosedError if the stream is destroyed without an
 * error, or the stream's own error. A framing error (MessageTooLargeError,
 * VarintError) is thrown and also destroys the stream with it, since nothing
 * after it can be parsed. If the consumer stops early (break, abort) the
 * bytes read but not yet returned are unshifted back onto the stream.
 */
export async function* readMessages(
  stream: Readable,
  opts: ReadMessagesOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new LengthPrefixedDecoder(opts)
  const { signal } = opts
  let wake: (() => void) | undefined
  let ended = false
  let closed = false
  let streamError: Error | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const onEnd = (): void => {
    ended = true
    notify()
  }
  const onClose = (): void => {
    closed = true
    notify()
  }
  const onError = (err: Error): void => {
    streamError ??= err
    notify()
  }
  stream.on('readable', notify)
  stream.on('end', onEnd)
  stream.on('close', onClose)
  stream.on('error', onError)
  signal?.addEventListener('abort', notify)
  let finished = false
  try {
    for (;;) {
      for (let msg = decoder.next(); msg !== undefined; msg = decoder.next()) yield msg
      if (signal?.aborted === true) throw abortReason(signal, 'readMessages')
      if (streamError !== undefined) throw streamError
      const chunk = readAvailable(stream)
      if (chunk !== null) {
        decoder.append(chunk)
        continue
      }
      if (ended) {
        finished = true
        if (decoder.bufferedBytes > 0) throw new TruncatedMessageError(decoder.bufferedBytes)
        return
      }
      if (closed || stream.destroyed) throw streamError ?? new StreamClosedError()
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  } catch (err) {
    if (err instanceof MessageTooLargeError || err instanceof VarintError) {
      finished = true
      destroyWith(stream, err)
    }
    throw err
  } finally {
    stream.off('readable', notify)
    stream.off('end', onEnd)
    stream.off('close', onClose)
    stream.off('error', onError)
    signal?.removeEventListener('abort', notify)
    if (!finished && !stream.destroyed && !stream.readableEnded) {
      const rest = decoder.takeBuffered()
      for (let i = rest.length - 1; i >= 0; i--) stream.unshift(rest[i]!)
    }
  }
}
