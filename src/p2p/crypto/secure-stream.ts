import { Duplex } from 'node:stream'
import debug from 'debug'
import { FrameModeError, SocketClosedError, TruncatedFrameError } from './errors'
import type { FrameCodec, FrameDecoder, FrameEncoder } from './frame-cipher'
import { MAX_RLPX_FRAME_SIZE } from './limits'

const log = debug('p2p:ecies')

/**
 * Buffering threshold of both sides of the secure stream: one TCP read's worth.
 * Node 20's 16 KiB default would pause the socket several times per read and
 * hand _writev smaller batches to coalesce.
 */
export const STREAM_HIGH_WATER_MARK = 64 * 1024

type WriteCallback = (err?: Error | null) => void

/**
 * Receives the channel's frames whole in frame mode (`readFrames`), the mode
 * an RLPx session needs: there one frame carries exactly one message.
 */
export interface SecureFrameSink {
  /** One authenticated frame body. Return false to hold later frames until `resumeFrames()`. */
  frame(body: Buffer): boolean
  /** `writeFrame()` returned false and the socket has drained since. */
  drain(): void
  /** The remote ended the channel on a frame boundary (its TCP FIN). */
  end(): void
}

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
 *
 * Frame mode (`readFrames` / `writeFrame`) keeps frame boundaries instead, for
 * a devp2p RLPx session on the same channel: each inbound frame goes whole to a
 * SecureFrameSink, each `writeFrame` seals exactly one frame. It can be entered only
 * before any byte was read (frames that arrived with the handshake wait, still
 * undecoded, for whichever mode comes first), and left again at a frame
 * boundary with `readBytes` (the listener looks at the first frame to tell an
 * RLPx Hello from multistream-select).
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
  /** Bytes that arrived with the handshake, decoded once a mode is chosen. */
  #leftover: Uint8Array | undefined
  #bytesRead = false
  /** Frame mode: set while frames go to a sink instead of the readable side. */
  #sink: SecureFrameSink | undefined
  #framePieces: Buffer[] = []
  /** Frames decoded while the sink asked to wait, in order. */
  #held: Buffer[] = []
  #holding = false
  /** The remote's clean EOF arrived while frames were held. */
  #endHeld = false
  #frameDrainWanted = false

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
    if (leftover.length > 0) this.#leftover = leftover
    if (socket.destroyed) this.#onClose()
  }

  override _read(): void {
    if (this.#sink !== undefined) return
    this.#bytesRead = true
    if (this.#leftover !== undefined) {
      this.#decodeLeftover()
      if (this.#pushRefused) return
    }
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
    if (this.#sink !== undefined) return cb(new FrameModeError('byte write on a secure stream in frame mode'))
    this.#cursor = { pieces: [chunk], index: 0, offset: 0, cb }
    this.#pump()
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (this.#sink !== undefined) return cb(new FrameModeError('byte write on a secure stream in frame mode'))
    this.#cursor = { pieces: chunks.map((c) => c.chunk), index: 0, offset: 0, cb }
    this.#pump()
  }

  /** True while frames go to a SecureFrameSink (see `readFrames`). */
  get frameMode(): boolean {
    return this.#sink !== undefined
  }

  /**
   * Enters frame mode, or hands it to another sink: every later frame, and
   * the frames held for the previous sink, go whole to `sink` (possibly before
   * this returns). `maxFrameSize` raises the inbound frame limit from here on.
   * Throws FrameModeError once bytes were read or written in byte mode.
   */
  readFrames(sink: SecureFrameSink, opts: { maxFrameSize?: number } = {}): void {
    if (this.#bytesRead) throw new FrameModeError('frame mode after bytes were read from the secure stream')
    if (this.#cursor !== undefined || this.writableLength > 0) throw new FrameModeError('frame mode with byte writes in flight')
    const max = opts.maxFrameSize
    if (max !== undefined) {
      if (!Number.isInteger(max) || max < 1 || max > MAX_RLPX_FRAME_SIZE) throw new FrameModeError(`maxFrameSize must be in [1, ${MAX_RLPX_FRAME_SIZE}], got ${max}`)
      this.#decoder.setMaxFrameSize(max)
    }
    this.#sink = sink
    this.resumeFrames()
  }

  /** Frame mode: delivers held frames, then reads the socket again, until the sink asks to wait. */
  resumeFrames(): void {
    this.#holding = false
    while (this.#held.length > 0) {
      if (!this.#deliverable()) return
      if (!this.#sink!.frame(this.#held.shift()!)) this.#holding = true
    }
    if (!this.#deliverable()) return
    if (this.#endHeld) {
      this.#endHeld = false
      this.#sink!.end()
      if (this.#socket.closed) this.destroy()
      return
    }
    if (this.#leftover !== undefined) {
      this.#decodeLeftover()
      if (!this.#deliverable()) return
    }
    if (this.#socketPaused) {
      this.#socketPaused = false
      this.#socket.resume()
    }
  }

  /**
   * Leaves frame mode at a frame boundary: `unread` (frame bodies a sink took
   * but did not consume), then the held frames, become the first bytes read.
   */
  readBytes(unread: readonly Uint8Array[] = []): void {
    this.#sink = undefined
    this.#holding = false
    const pieces = [...unread, ...this.#held.splice(0)].filter((p) => p.length > 0)
    for (const piece of pieces) this.push(piece)
    // Nothing to hand back: a read Node asked for in frame mode is still waiting, so read the socket now.
    if (pieces.length === 0 && !this.#endHeld) this._read()
    if (this.#endHeld) {
      this.#endHeld = false
      this.push(null)
      if (this.#socket.closed) this.once('end', () => this.destroy())
    }
  }

  /**
   * Frame mode: seals `parts` as exactly one frame and writes it. False means
   * the socket is full: the sink's `drain()` runs once it has drained. Throws
   * SocketClosedError when the socket is gone, FrameModeError outside
   * frame mode or above the 24-bit frame size.
   */
  writeFrame(parts: readonly Uint8Array[]): boolean {
    if (this.#sink === undefined) throw new FrameModeError('writeFrame outside frame mode')
    if (this.destroyed || this.#socket.destroyed || this.#socket.writableEnded) throw new SocketClosedError('secure stream is closed')
    let size = 0
    for (const p of parts) size += p.length
    if (size > MAX_RLPX_FRAME_SIZE) throw new FrameModeError(`frame of ${size} bytes exceeds the 24-bit frame size`)
    const out: Uint8Array[] = []
    this.#encoder.encode(parts, size, out)
    const ok = this.#writeOut(out)
    if (!ok) this.#frameDrainWanted = true
    return ok
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
    if (this.#frameDrainWanted) {
      this.#frameDrainWanted = false
      this.#sink?.drain()
    }
    if (!this.#waitingDrain) return
    this.#waitingDrain = false
    this.#pump()
  }

  #onData = (chunk: Uint8Array): void => {
    if (this.destroyed) return
    this.#pushRefused = false
    try {
      this.#decoder.write(chunk, this.#emit, this.#frameEnd)
    } catch (err) {
      log('inbound frame rejected: %s', (err as Error).message)
      this.destroy(err as Error)
      return
    }
    if ((this.#pushRefused || this.#holding) && !this.#socketPaused) {
      this.#socketPaused = true
      this.#socket.pause()
    }
  }

  #emit = (piece: Buffer): void => {
    if (this.#sink !== undefined) this.#framePieces.push(piece)
    else if (!this.push(piece)) this.#pushRefused = true
  }

  #frameEnd = (): void => {
    if (this.#sink === undefined || this.destroyed) return
    const pieces = this.#framePieces
    this.#framePieces = []
    const body = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)
    if (this.#holding || this.#held.length > 0) this.#held.push(body)
    else if (!this.#sink.frame(body)) this.#holding = true
  }

  #decodeLeftover(): void {
    const leftover = this.#leftover!
    this.#leftover = undefined
    this.#onData(leftover)
  }

  /** Frame mode, not destroyed, and the sink is taking frames. */
  #deliverable(): boolean {
    return this.#sink !== undefined && !this.#holding && !this.destroyed
  }

  #onEnd = (): void => {
    if (this.destroyed) return
    if (this.#decoder.midFrame) {
      this.destroy(new TruncatedFrameError())
      return
    }
    this.#sawEof = true
    if (this.#sink === undefined) this.push(null)
    else if (this.#holding || this.#held.length > 0) this.#endHeld = true
    else this.#sink.end()
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
    // clean EOF: close once the reader (or the sink) has taken everything that arrived before it
    if (this.#sink !== undefined) {
      if (!this.#endHeld) this.destroy()
    } else if (this.readableEnded) this.destroy()
    else this.once('end', () => this.destroy())
  }
}
