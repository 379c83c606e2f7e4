import type { KvOp, KvStore } from './kvstore'

/**
 * Writes collected for one atomic batch, readable before they are written: everything a
 * block changes (its header and body, the canonical index, its receipts, its state's new
 * trie nodes, what pruning removes, the head) is staged here and reaches the store in one
 * `flush()`. A crash before the flush leaves none of it, after the flush all of it.
 */
export class StagedWrites {
  readonly kv: KvStore
  /** By the key's bytes as a latin1 string (one character per byte), the last op per key. */
  private readonly ops = new Map<string, KvOp>()

  constructor(kv: KvStore) {
    this.kv = kv
  }

  /** Records staged and not yet flushed. */
  get size(): number {
    return this.ops.size
  }

  /** The staged value of `key`, else the stored one. */
  get(key: Uint8Array): Uint8Array | undefined {
    const op = this.ops.get(latin1(key))
    if (op !== undefined) return op.type === 'put' ? op.value : undefined
    return this.kv.get(key)
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.ops.set(latin1(key), { type: 'put', key, value })
  }

  del(key: Uint8Array): void {
    this.ops.set(latin1(key), { type: 'del', key })
  }

  /** Writes every staged op in one batch (none: no batch). Staged ops are dropped either way: a failed batch kept none of them. */
  async flush(): Promise<void> {
    if (this.ops.size === 0) return
    const ops = [...this.ops.values()]
    this.ops.clear()
    await this.kv.batch(ops)
  }

  /** Drops every staged op. */
  discard(): void {
    this.ops.clear()
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}
