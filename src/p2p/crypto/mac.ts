import { createCipheriv, type Cipher } from 'node:crypto'
import type { KeccakEngine } from './keccak'

/**
 * One direction's RLPx frame MAC: a running keccak-256 state plus the
 * AES-256-ECB(mac-secret) block cipher that mixes each digest back in.
 *
 *   header: absorb(aes(digest[:16]) ^ header-ciphertext);          header-mac = digest[:16]
 *   body:   absorb(body-ciphertext); absorb(aes(digest[:16]) ^ digest[:16]); body-mac = digest[:16]
 *
 * The state lives in this object (a snapshot; see KeccakEngine), so every
 * connection and direction has its own. Each method is a synchronous
 * load / work / save on the shared engine.
 */
export class FrameMac {
  readonly #engine: KeccakEngine
  readonly #ecb: Cipher
  #state: Uint8Array

  constructor(engine: KeccakEngine, macSecret: Uint8Array, seed: Uint8Array) {
    this.#engine = engine
    this.#state = engine.initialState(seed)
    // ECB over exactly one block per call: stateless, so one cipher object serves every frame
    this.#ecb = createCipheriv('aes-256-ecb', macSecret, null)
    this.#ecb.setAutoPadding(false)
  }

  /** Absorbs the header seed and returns the 16-byte header MAC. */
  header(headerCiphertext: Uint8Array): Uint8Array {
    const e = this.#engine
    e.load(this.#state)
    const d = e.digest()
    e.load(this.#state)
    return this.#mix(d, headerCiphertext)
  }

  /** Absorbs (part of) a body's ciphertext; bodies may arrive in several pieces. */
  absorb(data: Uint8Array): void {
    const e = this.#engine
    e.load(this.#state)
    e.update(data)
    this.#state = e.save()
  }

  /** Closes a body: absorbs the body seed and returns the 16-byte body MAC. */
  finishBody(): Uint8Array {
    const e = this.#engine
    e.load(this.#state)
    const d = e.digest()
    e.load(this.#state)
    return this.#mix(d, d)
  }

  /** The full 32-byte running digest, state unchanged (for test vectors and diagnostics). */
  digest(): Uint8Array {
    this.#engine.load(this.#state)
    return this.#engine.digest()
  }

  /** Absorbs aes(digest[:16]) ^ other[:16], saves, and returns the new digest's first 16 bytes. */
  #mix(digest: Uint8Array, other: Uint8Array): Uint8Array {
    const seed = this.#ecb.update(digest.subarray(0, 16))
    for (let i = 0; i < 16; i++) seed[i] ^= other[i]!
    const e = this.#engine
    e.update(seed)
    this.#state = e.save()
    return e.digest().subarray(0, 16)
  }
}
