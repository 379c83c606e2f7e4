import { createCipheriv, createDecipheriv, timingSafeEqual, type Cipher, type Decipher } from 'node:crypto'
import { FrameMacError, FrameTooLargeError } from './errors'
import type { KeccakEngine } from './keccak'
import { FrameMac } from './mac'
import type { Secrets } from './secrets'

/**
 * RLPx framing of one connection:
 *
 *   frame  = header-ciphertext (16) || header-mac (16) || body-ciphertext (padded to 16) || body-mac (16)
 *   header = body-size (3 bytes, big-endian) || rlp([0, 0]) || zero-fill to 16
 *
 * Each direction has its own AES-256-CTR stream (aes-secret, zero IV) and MAC,
 * running continuously across frames, so frames are only valid in order, on
 * the connection that produced them.
 */

/** rlp([capability-id = 0, context-id = 0]); both fields are unused by RLPx v4 but required on the wire. */
const HEADER_DATA = [0xc2, 0x80, 0x80]
const ZERO_PAD = new Uint8Array(16)
/**
 * Frames up to this size (with header and MACs) go out as one contiguous
 * buffer: copying a few KiB is cheaper than the socket handling extra write
 * requests. Bigger frames are written as header, body, MAC without copying the body.
 */
const CONTIGUOUS_FRAME_LIMIT = 16 * 1024

const pad16 = (n: number): number => (n + 15) & ~15

export interface FrameCodec {
  encoder: FrameEncoder
  decoder: FrameDecoder
}

export function createFrameCodec(engine: KeccakEngine, secrets: Secrets, maxInboundFrameSize: number): FrameCodec {
  const iv = new Uint8Array(16)
  const egressMac = new FrameMac(engine, secrets.macSecret, secrets.egressMacSeed)
  const ingressMac = new FrameMac(engine, secrets.macSecret, secrets.ingressMacSeed)
  return {
    encoder: new FrameEncoder(createCipheriv('aes-256-ctr', secrets.aesSecret, iv), egressMac),
    decoder: new FrameDecoder(createDecipheriv('aes-256-ctr', secrets.aesSecret, iv), ingressMac, maxInboundFrameSize),
  }
}

export class FrameEncoder {
  readonly #aes: Cipher
  readonly #mac: FrameMac
  /** Plaintext header scratch; reusable because aes.update copies into a new buffer. */
  readonly #header = new Uint8Array(16)

  constructor(aes: Cipher, mac: FrameMac) {
    this.#aes = aes
    this.#mac = mac
    this.#header.set(HEADER_DATA, 3)
  }

  /**
   * Seals one frame whose body is the concatenation of `pieces` (`size` bytes in
   * total, at most MAX_RLPX_FRAME_SIZE) and appends its wire buffers to `out`.
   * Every appended buffer is freshly allocated: callers may hand them to a socket.
   */
  encode(pieces: readonly Uint8Array[], size: number, out: Uint8Array[]): void {
    const h = this.#header
    h[0] = size >>> 16
    h[1] = (size >>> 8) & 0xff
    h[2] = size & 0xff
    const headerCt = this.#aes.update(h)
    const headerMac = this.#mac.header(headerCt)
    const body = this.#encryptBody(pieces, size)
    for (const ct of body) this.#mac.absorb(ct)
    const bodyMac = this.#mac.finishBody()
    const padded = pad16(size)
    if (padded + 48 <= CONTIGUOUS_FRAME_LIMIT) {
      const frame = Buffer.allocUnsafe(padded + 48)
      frame.set(headerCt, 0)
      frame.set(headerMac, 16)
      let o = 32
      for (const ct of body) {
        frame.set(ct, o)
        o += ct.length
      }
      frame.set(bodyMac, o)
      out.push(frame)
      return
    }
    const head = Buffer.allocUnsafe(32)
    head.set(headerCt, 0)
    head.set(headerMac, 16)
    out.push(head, ...body, bodyMac)
  }

  /** Body ciphertext, padding included. A single piece is encrypted in place of a copy. */
  #encryptBody(pieces: readonly Uint8Array[], size: number): Uint8Array[] {
    const padLen = pad16(size) - size
    if (pieces.length === 1) {
      const ct = [this.#aes.update(pieces[0]!)]
      if (padLen > 0) ct.push(this.#aes.update(ZERO_PAD.subarray(0, padLen)))
      return ct
    }
    // many (typically small, coalesced) writes: one copy, then a single cipher call
    const plain = Buffer.allocUnsafe(size + padLen)
    let o = 0
    for (const p of pieces) {
      plain.set(p, o)
      o += p.length
    }
    plain.fill(0, size)
    return [this.#aes.update(plain)]
  }
}

type DecoderState = 'header' | 'body' | 'mac'

export class FrameDecoder {
  readonly #aes: Decipher
  readonly #mac: FrameMac
  #maxFrameSize: number
  #state: DecoderState = 'header'
  /** Header ciphertext + header MAC, or the body MAC, as they arrive. */
  readonly #fixed = Buffer.alloc(32)
  #fixedFill = 0
  #size = 0
  #remaining = 0
  /** Decrypted pieces of the current body, released only once its MAC verifies. */
  #pieces: Buffer[] = []

  constructor(aes: Decipher, mac: FrameMac, maxFrameSize: number) {
    this.#aes = aes
    this.#mac = mac
    this.#maxFrameSize = maxFrameSize
  }

  /** Largest body accepted from the next header on (RLPx sessions carry one message per frame, up to 16 MiB). */
  setMaxFrameSize(size: number): void {
    this.#maxFrameSize = size
  }

  /** True while a frame has started but not finished (an EOF now would truncate it). */
  get midFrame(): boolean {
    return this.#state !== 'header' || this.#fixedFill > 0
  }

  /**
   * Consumes ciphertext in any chunking. `emit` receives each authenticated body
   * piece in order (fresh buffers, never reused); `frameEnd`, when given, runs
   * after the last piece of each frame (also for an empty frame). Throws
   * FrameMacError or FrameTooLargeError; the decoder is unusable after a throw.
   */
  write(chunk: Uint8Array, emit: (piece: Buffer) => void, frameEnd?: () => void): void {
    let off = 0
    while (off < chunk.length) {
      if (this.#state === 'body') {
        const n = Math.min(this.#remaining, chunk.length - off)
        const ct = chunk.subarray(off, off + n)
        this.#mac.absorb(ct)
        this.#pieces.push(this.#aes.update(ct))
        off += n
        this.#remaining -= n
        if (this.#remaining === 0) this.#state = 'mac'
        continue
      }
      const need = this.#state === 'header' ? 32 : 16
      const n = Math.min(need - this.#fixedFill, chunk.length - off)
      this.#fixed.set(chunk.subarray(off, off + n), this.#fixedFill)
      this.#fixedFill += n
      off += n
      if (this.#fixedFill < need) return
      this.#fixedFill = 0
      if (this.#state === 'header') this.#openHeader()
      else this.#finishBody(emit, frameEnd)
    }
  }

  #openHeader(): void {
    const headerCt = this.#fixed.subarray(0, 16)
    if (!timingSafeEqual(this.#mac.header(headerCt), this.#fixed.subarray(16, 32))) throw new FrameMacError('header')
    const h = this.#aes.update(headerCt)
    const size = (h[0]! << 16) | (h[1]! << 8) | h[2]!
    if (size > this.#maxFrameSize) throw new FrameTooLargeError(size, this.#maxFrameSize)
    this.#size = size
    this.#remaining = pad16(size)
    this.#state = this.#remaining > 0 ? 'body' : 'mac'
  }

  #finishBody(emit: (piece: Buffer) => void, frameEnd: (() => void) | undefined): void {
    if (!timingSafeEqual(this.#mac.finishBody(), this.#fixed.subarray(0, 16))) throw new FrameMacError('body')
    const pieces = this.#pieces
    this.#pieces = []
    this.#state = 'header'
    let keep = this.#size
    for (const p of pieces) {
      if (keep === 0) break
      const piece = p.length <= keep ? p : p.subarray(0, keep)
      keep -= piece.length
      emit(piece)
    }
    frameEnd?.()
  }
}
