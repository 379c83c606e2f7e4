import { Duplex } from 'node:stream'
import { COALESCE_LIMIT, LengthPrefixedDecoder, encodeMessage, uvarintLength, writeUvarint } from '../codec'
import { P2PError } from '../errors'
import type { StreamDirection } from '../muxer'
import type { SharedCapability } from './capabilities'
import { RlpxCapabilityStreamError } from './errors'

/** What a capability stream needs from its session (RlpxMuxer). */
export interface CapabilityStreamSession {
  /** Sends one message of `cap` (code relative to the capability). False: the channel is full. Throws a typed error. */
  sendCapabilityMessage(cap: SharedCapability, code: number, payload: Uint8Array): boolean
  /** Runs `cb` once the channel takes writes again (at once when it does), with an error when the session ended. */
  whenWritable(cb: (err?: Error) => void): void
  /** The stream's reader wants more: reading frames may resume. */
  streamReadable(stream: RlpxStream): void
  /** `end()` of the stream, after its writes went out. */
  streamEnded(stream: RlpxStream): void
  /** `reset()` / `destroy()` of the stream while the session runs. */
  streamDestroyed(stream: RlpxStream, err: Error | null): void
}

const CODE_BYTES: readonly Uint8Array[] = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i))
/** Inbound sizes are checked by the session against the capability's limit before decompression. */
const UNLIMITED = { maxLength: Number.MAX_SAFE_INTEGER }

/**
 * One shared capability of an RLPx session as a byte Duplex carrying the
 * stream framing of the modular stack: `uvarint(n) || code || RLP(payload)`,
 * n counting code and payload, code relative to the capability (eth Status is
 * 0x00). A StreamEthProtocol cannot tell it from an mplex stream.
 *
 * Writes are parsed into messages, each sent as one RLPx frame (message id
 * offset by the capability's base, snappy-compressed when the session is);
 * a write is acknowledged once the secure channel takes more, so backpressure
 * reaches TCP. Each inbound message of the capability is pushed in the same
 * framing; a full readable buffer stops the session reading frames.
 *
 * RLPx has no per-capability close or reset, so:
 * - `end()` (after the queued writes went out) disconnects the whole session
 *   gracefully with DISCONNECT_REQUESTED;
 * - `reset()` / `destroy()` disconnects it at once with SUBPROTOCOL_ERROR (or
 *   the reason of an RlpxError given to destroy());
 * - a write that is not a message of the capability (code ≥ its length,
 *   broken framing, over its limit) fails with RlpxCapabilityStreamError and
 *   ends the session the same way.
 * When the remote disconnects, the readable side ends (what arrived before
 * stays readable); when the connection is lost, the stream is destroyed with
 * the session's error.
 */
export class RlpxStream extends Duplex {
  /** The capability's first message id: unique per session. */
  readonly id: number
  /** The connection's direction (the listener's streams are inbound, the dialer's outbound). */
  readonly direction: StreamDirection
  readonly capability: SharedCapability
  /** Stream id of the capability, e.g. `/eth/69/1.0.0`. */
  protocol: string

  readonly #session: CapabilityStreamSession
  readonly #decoder: LengthPrefixedDecoder
  #detached = false

  constructor(session: CapabilityStreamSession, capability: SharedCapability, direction: StreamDirection, highWaterMark: number) {
    super({ readableHighWaterMark: highWaterMark, allowHalfOpen: true })
    this.#session = session
    this.capability = capability
    this.id = capability.offset
    this.direction = direction
    this.protocol = capability.protocol
    this.#decoder = new LengthPrefixedDecoder({ maxLength: capability.maxMessageSize })
  }

  /** Ends the whole session at once (SUBPROTOCOL_ERROR): RLPx cannot reset one capability. */
  reset(): void {
    if (!this.destroyed) this.destroy()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    const err = this.#send(chunk)
    if (err !== undefined) cb(err)
    else this.#session.whenWritable(cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    for (const { chunk } of chunks) {
      const err = this.#send(chunk)
      if (err !== undefined) return cb(err)
    }
    this.#session.whenWritable(cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    const pending = this.#decoder.bufferedBytes
    if (pending > 0) return cb(new RlpxCapabilityStreamError(`${this.protocol} stream ended inside a message (${pending} bytes)`))
    if (!this.#detached) this.#session.streamEnded(this)
    cb()
  }

  override _read(): void {
    if (!this.#detached) this.#session.streamReadable(this)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.#detached) {
      this.#detached = true
      this.#session.streamDestroyed(this, err)
    }
    cb(err)
  }

  /** @internal One inbound message of the capability; false when the reader is behind. */
  receive(code: number, payload: Uint8Array): boolean {
    if (this.destroyed || this.readableEnded) return true
    if (payload.length < COALESCE_LIMIT) return this.push(encodeMessage([CODE_BYTES[code]!, payload], UNLIMITED))
    // Large payloads are not copied: the prefix (with the code) and the payload go as two chunks.
    this.push(messagePrefix(code, payload.length))
    return this.push(payload)
  }

  /** @internal The remote disconnected: nothing more will arrive. */
  remoteEnded(): void {
    if (!this.destroyed && !this.readableEnded) this.push(null)
  }

  /**
   * @internal The session is gone. With an error the stream is destroyed
   * with it; without one (remote Disconnect, our graceful close) the
   * readable side ends after what already arrived and the writable side is ended.
   */
  detach(err: Error | undefined): void {
    if (this.#detached) return
    this.#detached = true
    if (this.destroyed) return
    if (err !== undefined) {
      this.destroy(err)
      return
    }
    this.remoteEnded()
    if (!this.writableEnded) this.end()
  }

  /** Sends every complete message in `chunk`; returns the error that ends the stream, if any. */
  #send(chunk: Uint8Array): Error | undefined {
    try {
      this.#decoder.append(chunk)
      for (let msg = this.#decoder.next(); msg !== undefined; msg = this.#decoder.next()) {
        if (msg.length === 0) throw new RlpxCapabilityStreamError(`empty message on ${this.protocol} (no code byte)`)
        const code = msg[0]!
        if (code >= this.capability.length) {
          throw new RlpxCapabilityStreamError(`code 0x${code.toString(16)} is outside ${this.protocol} (${this.capability.length} message ids)`)
        }
        this.#session.sendCapabilityMessage(this.capability, code, msg.subarray(1))
      }
      return undefined
    } catch (err) {
      // Typed errors (RlpxSessionClosedError, a codec MessageTooLargeError) keep their type; anything else is wrapped.
      return err instanceof P2PError ? err : new RlpxCapabilityStreamError(`${this.protocol} write failed: ${String(err)}`, { cause: err })
    }
  }
}

/** `uvarint(1 + length) || code`: the stream framing's prefix of a message whose payload follows separately. */
function messagePrefix(code: number, length: number): Uint8Array {
  const n = 1 + length
  const prefix = Buffer.allocUnsafe(uvarintLength(n) + 1)
  prefix[writeUvarint(n, prefix, 0)] = code
  return prefix
}

/**
 * Ends every stream's writable side and calls `done` once all of them have
 * flushed (or failed), or after `timeoutMs`, whichever comes first; once.
 */
export function whenFlushed(streams: readonly RlpxStream[], timeoutMs: number, done: () => void): void {
  const pending = streams.filter((s) => !s.destroyed && !s.writableFinished)
  let left = pending.length
  let finished = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const finish = (): void => {
    if (finished) return
    finished = true
    if (timer !== undefined) clearTimeout(timer)
    done()
  }
  if (left === 0) return finish()
  if (timeoutMs !== Infinity) timer = setTimeout(finish, timeoutMs)
  for (const stream of pending) {
    let counted = false
    const flushed = (): void => {
      if (counted) return
      counted = true
      stream.off('finish', flushed)
      stream.off('close', flushed)
      if (--left === 0) finish()
    }
    stream.on('finish', flushed)
    stream.on('close', flushed)
    if (!stream.writableEnded) stream.end()
  }
}
