import { createKeccak, type IHasher } from 'hash-wasm'

/**
 * Keccak-256 for the frame MACs, which hash every byte on the wire. hash-wasm's
 * WASM keccak measured several times faster than @noble/hashes under both Node
 * and Bun (the crypto ceiling of bench/bulk.ts), so it is the one used on the
 * per-byte path.
 *
 * One WASM instance serves every connection in the process: each instance
 * reserves 128 KiB of linear memory (counted as heap under Bun), too much to
 * spend twice per connection. The instance holds no connection state between
 * calls: every MAC keeps its own running state as the ~400-byte snapshot from
 * `save()`, and each operation is `load(state)`, work, `save()` in one
 * synchronous run, so no other connection's operation can interleave.
 * Created lazily (WASM compilation is async) on the first handshake.
 */
export class KeccakEngine {
  readonly #h: IHasher

  constructor(hasher: IHasher) {
    this.#h = hasher
  }

  /** Snapshot of a fresh keccak-256 state that has absorbed `seed`. */
  initialState(seed: Uint8Array): Uint8Array {
    this.#h.init()
    this.#h.update(seed)
    return this.#h.save()
  }

  /** Makes `state` the engine's current state; start of every MAC operation. */
  load(state: Uint8Array): void {
    this.#h.load(state)
  }

  update(data: Uint8Array): void {
    this.#h.update(data)
  }

  save(): Uint8Array {
    return this.#h.save()
  }

  /**
   * Digest of the current state. hash-wasm finalizes the state on digest, so a
   * caller that keeps absorbing (RLPx reads the running MAC after each update)
   * takes a `save()` first and `load()`s it again afterwards.
   */
  digest(): Uint8Array {
    return this.#h.digest('binary')
  }
}

let engine: Promise<KeccakEngine> | undefined

/** The process-wide engine, compiled on first use. */
export function loadKeccakEngine(): Promise<KeccakEngine> {
  engine ??= createKeccak(256).then(
    (h) => new KeccakEngine(h),
    (err: unknown) => {
      engine = undefined // allow a retry rather than caching the failure
      throw err
    },
  )
  return engine
}
