import debug from 'debug'
import type { SecureFrameSink, SecureStream } from '../crypto'
import { MAX_RLPX_FRAME_SIZE } from '../crypto/limits'
import type { DisconnectReason } from './disconnect-reason'
import { RlpxMessageTooLargeError, RlpxSessionClosedError } from './errors'
import { DISCONNECT_MSG } from './limits'
import { encodeDisconnect, encodeMessageId, splitMessageId } from './message'
import { snappyCompress } from './snappy'

const log = debug('p2p:rlpx')

/** What the session hears from the wire. */
export interface WireHandlers {
  /** One inbound message, its data still compressed. What it throws goes to `violation`. */
  message(id: number, data: Uint8Array): void
  /** The remote broke the protocol (a malformed message id, or whatever `message` threw). */
  violation(err: Error): void
  /** The remote ended the connection (TCP FIN) without anything else. */
  end(): void
  /** The channel failed (bad MAC, reset socket, oversized frame). */
  error(err: Error): void
  /** The channel closed; nothing more comes either way. */
  close(): void
}

/**
 * RLPx messages on a secure channel in frame mode: one frame per message,
 * `msg-id || data`, data snappy-compressed once `compress` is set. Keeps the
 * write side's backpressure (callers wait with `whenWritable`), pauses frame
 * reading on request, and ends a connection the RLPx way: Disconnect, our
 * FIN, then `disconnectTimeoutMs` for the remote to close before it is destroyed.
 */
export class RlpxWire {
  /** Compress outbound message data (both sides p2p v5). */
  compress = false
  readonly #channel: SecureStream
  readonly #handlers: WireHandlers
  readonly #maxFrameSize: number
  readonly #disconnectTimeoutMs: number
  #writable = true
  #writeWaiters: Array<(err?: Error) => void> = []
  #readPaused = false
  /** Until start(): frames are kept here, in order, behind the caller's first frame. */
  #early: Buffer[] | undefined = []
  #lingerTimer: ReturnType<typeof setTimeout> | undefined
  #closed = false

  constructor(channel: SecureStream, opts: { maxFrameSize: number; disconnectTimeoutMs: number }, handlers: WireHandlers) {
    this.#channel = channel
    this.#handlers = handlers
    this.#maxFrameSize = opts.maxFrameSize
    this.#disconnectTimeoutMs = opts.disconnectTimeoutMs
    channel.on('error', this.#onError)
    channel.on('close', this.#onClose)
  }

  get destroyed(): boolean {
    return this.#channel.destroyed
  }

  get readPaused(): boolean {
    return this.#readPaused
  }

  /**
   * Enters frame mode (throws FrameModeError when the channel was read as
   * bytes). Frames are held until `start()`, so the caller can send first.
   */
  open(): void {
    const sink: SecureFrameSink = {
      frame: (body) => this.#onFrame(body),
      drain: () => this.#onDrain(),
      end: () => this.#handlers.end(),
    }
    this.#channel.readFrames(sink, { maxFrameSize: this.#maxFrameSize })
  }

  /** Delivers `firstFrame` (taken off the channel earlier), then what was held, then reads on. */
  start(firstFrame?: Uint8Array): void {
    const held = this.#early ?? []
    this.#early = undefined
    const frames = firstFrame === undefined ? held : [Buffer.from(firstFrame.buffer, firstFrame.byteOffset, firstFrame.byteLength), ...held]
    for (const body of frames) if (!this.#onFrame(body)) return
    if (!this.#channel.destroyed) this.#channel.resumeFrames()
  }

  /** Stops reading frames (a stream is congested) until `resume()`. */
  pause(): void {
    this.#readPaused = true
  }

  resume(): void {
    if (!this.#readPaused) return
    this.#readPaused = false
    if (!this.#channel.destroyed) this.#channel.resumeFrames()
  }

  /** Writes one message. False: the channel is full, wait with `whenWritable`. Throws a typed error. */
  writeMessage(id: number, payload: Uint8Array): boolean {
    const data = this.compress ? snappyCompress(payload) : payload
    const idBytes = encodeMessageId(id)
    const size = idBytes.length + data.length
    if (size > MAX_RLPX_FRAME_SIZE) throw new RlpxMessageTooLargeError(size, MAX_RLPX_FRAME_SIZE, 'outbound frame')
    const ok = this.#channel.writeFrame([idBytes, data])
    if (!ok) this.#writable = false
    return ok
  }

  /** A small control message that goes out regardless of backpressure; a failure is only logged. */
  sendControl(id: number, payload: Uint8Array): void {
    try {
      this.writeMessage(id, payload)
    } catch (err) {
      log('could not send message 0x%s: %s', id.toString(16), (err as Error).message)
    }
  }

  /** Runs `cb` once writes may go on (at once when they may), with an error once the channel is gone. */
  whenWritable(cb: (err?: Error) => void): void {
    if (this.#closed || this.#channel.destroyed) cb(new RlpxSessionClosedError())
    else if (this.#writable) cb()
    else this.#writeWaiters.push(cb)
  }

  /** Disconnect with `reason` (best effort), then our FIN; the remote has disconnectTimeoutMs to close. */
  disconnect(reason: DisconnectReason): void {
    this.#armLinger()
    const channel = this.#channel
    if (channel.destroyed || channel.writableEnded) return
    this.sendControl(DISCONNECT_MSG, encodeDisconnect(reason))
    channel.end()
  }

  destroy(): void {
    this.#channel.destroy()
  }

  /** One frame: split off its message id and hand it on; false stops reading frames. */
  #onFrame(body: Buffer): boolean {
    if (this.#early !== undefined) {
      this.#early.push(body)
      return false
    }
    if (this.#closed) return true
    try {
      const { id, data } = splitMessageId(body)
      this.#handlers.message(id, data)
    } catch (err) {
      this.#handlers.violation(err instanceof Error ? err : new Error(String(err)))
      return true
    }
    return !this.#readPaused
  }

  #onDrain(): void {
    this.#writable = true
    const waiters = this.#writeWaiters
    this.#writeWaiters = []
    for (const cb of waiters) cb()
  }

  #armLinger(): void {
    if (this.#lingerTimer !== undefined || this.#closed) return
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined
      log('remote did not close within %d ms of Disconnect', this.#disconnectTimeoutMs)
      this.#channel.destroy()
    }, this.#disconnectTimeoutMs)
  }

  readonly #onError = (err: Error): void => this.#handlers.error(err)

  readonly #onClose = (): void => {
    if (this.#closed) return
    this.#closed = true
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = undefined
    this.#channel.off('close', this.#onClose)
    const waiters = this.#writeWaiters
    this.#writeWaiters = []
    for (const cb of waiters) cb(new RlpxSessionClosedError())
    this.#handlers.close()
  }
}
