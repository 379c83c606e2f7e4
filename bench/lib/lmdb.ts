/**
 * An LMDB KvStore (lmdb-js), for the import bench's engine comparison only: the node itself
 * runs on LevelDB (src/client/db/level.ts; bench/README.md says why).
 */
import { type RootDatabase, open } from 'lmdb'

import type { KvOp, KvRange, KvStore } from '../../src/client/db/kvstore'

export class LmdbKvStore implements KvStore {
  readonly location: string
  private readonly db: RootDatabase<Uint8Array, Uint8Array>
  private closed = false

  private constructor(location: string, db: RootDatabase<Uint8Array, Uint8Array>) {
    this.location = location
    this.db = db
  }

  /** `syncWrites` false: commits are not fsynced (lmdb's noSync), like LevelDB's default batches. */
  static open(location: string, opts: { syncWrites: boolean }): LmdbKvStore {
    const db = open<Uint8Array, Uint8Array>({ path: location, keyEncoding: 'binary', encoding: 'binary', compression: false, noSync: !opts.syncWrites })
    return new LmdbKvStore(location, db)
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(key)
  }

  async batch(ops: readonly KvOp[]): Promise<void> {
    await this.db.batch(() => {
      for (const op of ops) {
        if (op.type === 'put') void this.db.put(op.key, op.value)
        else void this.db.remove(op.key)
      }
    })
  }

  async *range(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    const opts = range.reverse === true ? { start: range.lt, end: range.gte, reverse: true } : { start: range.gte, end: range.lt }
    for (const { key, value } of this.db.getRange({ ...opts, limit: range.limit })) {
      if (range.reverse === true && compare(key, range.lt) >= 0) continue
      yield [key, value]
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.db.close()
  }
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
