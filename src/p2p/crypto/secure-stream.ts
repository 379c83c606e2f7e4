import { Duplex } from 'node:stream'
import debug from 'debug'
import { SocketClosedError, TruncatedFrameError } from './errors'
import type { FrameCodec, FrameDecoder, FrameEncoder } from './frame-cipher'

const log = debug('p2p:ecies')

/**
 * Buffering threshold of both sides of the secure stream: one TCP read's worth.
 * Node 20's 16 KiB default would pause the socket several times per read and
 * hand _writev smaller batches to coalesce.
 */
export const STREAM_HIGH_WATER_MARK = 64 * 1024

type WriteCallback = (err?: Error | null) => void

interface Cursor {
  pieces: Uint8Array[]
  index: number
  offset: number
  cb: (err?: Error | null) => void
}

/**
 * The encrypted channel over one socket after the handshake: writes become RLPx
 * frames, authenticated frame bodies become reads. Frame boundaries carry no
 * meaning for the layer above.
 *
 * Backpressure is native in both directions: when a push() is refused the
 * socket is paused until _read(); a batch of writes is only acknowledged once
 * the socket accepted all its frames without asking to wait, or drained.
 */
export class SecureStream extends Duplex {
  readonly #socket: Duplex
  readonly #encoder: FrameEncoder
  readonly #decoder: FrameDecoder
  readonly #maxFrameSize: number
  /** We paused the socket (start state: the handshake leaves it paused until someone reads). */
  #socketPaused = true
  #pushRefused = false
  #sawEof = false
  #cursor: Cursor | undefined
  #waitingDrain = false
  #uncorkScheduled = false

  constructor(socket: Duplex, codec: FrameCodec, leftover: Uint8Array, maxOutboundFrameSize: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_HIGH_WATER_MARK, writableHighWaterMark: STREAM_HIGH_WATER_MARK })
    this.#socket = socket
    this.#encoder = codec.encoder
    this.#decoder = codec.decoder
    this.#maxFrameSize = maxOutboundFrameSize
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    socket.on('drain', this.#onDrain)
    // frames that arrived in the same read as the auth/ack
    if (leftover.length > 0) this.#onData(leftover)
    if (socket.destroyed) this.#onClose()
  }

  override _read(): void {
    if (this.#socketPaused) {
      this.#socketPaused = false
      this.#socket.resume()
    }
  }

  /**
   * Writes issued in the same tick are held (cork) and handed to _writev
   * together on the next tick, so a burst of small writes becomes one frame and
   * one socket write instead of one of each per write.
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (!this.#uncorkScheduled) {
      this.#uncorkScheduled = true
      this.cork()
      process.nextTick(this.#uncork)
    }
    return super.write(chunk, encoding as BufferEncoding, cb)
  }

  #uncork = (): void => {
    this.#uncorkScheduled = false
    this.uncork()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#cursor = { pieces: [chunk], index: 0, offset: 0, cb }
    this.#pump()
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#cursor = { pieces: chunks.map((c) => c.chunk), index: 0, offset: 0, cb }
    this.#pump()
  }

  override _final(cb: (err?: Error | null) => void): void {
    // RLPx has no close frame: a half-close is the TCP FIN
    if (!this.#socket.destroyed) this.#socket.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#socket.off('data', this.#onData)
    this.#socket.off('drain', this.#onDrain)
    if (!this.#socket.destroyed) this.#socket.destroy()
    if (err !== null) log('secure stream destroyed: %s', err.message)
    cb(err)
  }

  /** Seals and writes frames until the batch is done or the socket asks us to wait. */
  #pump(): void {
    const c = this.#cursor
    if (c === undefined) return
    const out: Uint8Array[] = []
    while (c.index < c.pieces.length) {
      if (this.#socket.destroyed || this.#socket.writableEnded) {
        this.#cursor = undefined
        c.cb(new SocketClosedError())
        return
      }
      out.length = 0
      this.#sealNextFrame(c, out)
      if (!this.#writeOut(out)) {
        this.#waitingDrain = true
        return
      }
    }
    this.#cursor = undefined
    c.cb()
  }

  /** Takes up to one frame's worth of bytes from the cursor (views, no copies) and seals it. */
  #sealNextFrame(c: Cursor, out: Uint8Array[]): void {
    const frame: Uint8Array[] = []
    let size = 0
    while (c.index < c.pieces.length && size < this.#maxFrameSize) {
      const p = c.pieces[c.index]!
      const n = Math.min(this.#maxFrameSize - size, p.length - c.offset)
      frame.push(n === p.length ? p : p.subarray(c.offset, c.offset + n))
      size += n
      c.offset += n
      if (c.offset === p.length) {
        c.index++
        c.offset = 0
      }
    }
    if (size > 0) this.#encoder.encode(frame, size, out)
  }

  /** Hands the frame's buffers to the socket in one corked batch; false means wait for 'drain'. */
  #writeOut(out: Uint8Array[]): boolean {
    const s = this.#socket
    if (out.length === 0) return true
    if (out.length === 1) return s.write(out[0])
    s.cork()
    let ok = true
    for (const b of out) ok = s.write(b)
    s.uncork()
    return ok
  }

  #onDrain = (): void => {
    if (!this.#waitingDrain) return
    this.#waitingDrain = false
    this.#pump()
  }

  #onData = (chunk: Uint8Array): void => {
    if (this.destroyed) return
    this.#pushRefused = false
    try {
      this.#decoder.write(chunk, this.#emit)
    } catch (err) {
      log('inbound frame rejected: %s', (err as Error).message)
      this.destroy(err as Error)
      return
    }
    if (this.#pushRefused && !this.#socketPaused) {
      this.#socketPaused = true
      this.#socket.pause()
    }
  }

  #emit = (piece: Buffer): void => {
    if (!this.push(piece)) this.#pushRefused = true
  }

  #onEnd = (): void => {
    if (this.destroyed) return
    if (this.#decoder.midFrame) {
      this.destroy(new TruncatedFrameError())
      return
    }
    this.#sawEof = true
    this.push(null)
  }

  #onError = (err: Error): void => {
    if (this.destroyed) {
      log('socket error after close: %s', err.message)
      return
    }
    // A raw socket error (ECONNRESET, EPIPE, ...) must not escape to the layers
    // above untyped; wrap it and keep it as the cause.
    this.destroy(new SocketClosedError(`socket failed: ${err.message}`, err))
  }

  #onClose = (): void => {
    const c = this.#cursor
    if (c !== undefined && this.#waitingDrain) {
      this.#cursor = undefined
      this.#waitingDrain = false
      c.cb(new SocketClosedError())
    }
    if (this.destroyed) return
    if (!this.#sawEof) {
      this.destroy(new SocketClosedError())
      return
    }
    // clean EOF: close once the reader has taken everything that arrived before it
    if (this.readableEnded) this.destroy()
    else this.once('end', () => this.destroy())
  }
}
