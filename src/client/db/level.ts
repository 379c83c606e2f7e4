import { ClassicLevel } from 'classic-level'
import debug from 'debug'

import { ConfigError } from '../errors'
import { StorageError, storageError } from './errors'
import { makeDir } from './files'

import type { KvOp, KvRange, KvStore } from './kvstore'

const log = debug('client:db')

/**
 * LevelDB's block cache. The chain's hot records (recent headers, the state's upper trie
 * levels) are also cached decoded above this store; 32 MiB keeps the rest of a test or
 * devnet chain's working set in memory without dominating the node's footprint.
 */
export const DEFAULT_LEVEL_CACHE_BYTES = 32 * 1024 * 1024

export interface LevelStoreOptions {
  /** The dataDir this database belongs to: named by the error when another process holds it. */
  dataDir: string
  /** Block cache size. Default DEFAULT_LEVEL_CACHE_BYTES. */
  cacheBytes?: number
  /**
   * fsync every batch. Default false: a batch is in the operating system once `batch()`
   * resolves, so it survives the process being killed at any point; a power loss may lose
   * the last batches, never a part of one (LevelDB checksums every log record and drops a
   * torn tail on open), so the database still opens to a consistent head.
   */
  syncWrites?: boolean
}

type Level = ClassicLevel<Uint8Array, Uint8Array>

/**
 * The KvStore of a dataDir: LevelDB through classic-level (prebuilt N-API binaries, Node and
 * Bun). LevelDB's LOCK file is the one-process-per-dataDir lock: the kernel releases it when
 * the holder exits, however it exits, so a killed node leaves no stale lock behind.
 */
export class LevelKvStore implements KvStore {
  readonly location: string
  private readonly db: Level
  private readonly syncWrites: boolean
  private closing?: Promise<void>

  private constructor(location: string, db: Level, syncWrites: boolean) {
    this.location = location
    this.db = db
    this.syncWrites = syncWrites
  }

  /**
   * Opens (creating if missing) the database in `location`. A database another process has
   * open fails with ConfigError('dataDir', '... is in use'); a damaged one with
   * ERR_STORAGE_CORRUPT; an unwritable directory with ERR_STORAGE_READ_ONLY.
   */
  static async open(location: string, opts: LevelStoreOptions): Promise<LevelKvStore> {
    try {
      makeDir(location)
    } catch (err) {
      throw storageError(location, err, 'cannot create the database directory')
    }
    const db: Level = new ClassicLevel<Uint8Array, Uint8Array>(location, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      cacheSize: opts.cacheBytes ?? DEFAULT_LEVEL_CACHE_BYTES,
    })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new ConfigError('dataDir', `${opts.dataDir} is in use by another process (its database ${location} is locked)`, { cause: err })
      }
      throw storageError(location, cause ?? err, 'cannot open the database')
    }
    log('opened %s', location)
    return new LevelKvStore(location, db, opts.syncWrites ?? false)
  }

  get(key: Uint8Array): Uint8Array | undefined {
    this.ensureOpen()
    try {
      return view(this.db.getSync(key))
    } catch (err) {
      throw storageError(this.location, err, 'read failed')
    }
  }

  async batch(ops: readonly KvOp[]): Promise<void> {
    this.ensureOpen()
    if (ops.length === 0) return
    try {
      await this.db.batch(ops as KvOp[], { sync: this.syncWrites })
    } catch (err) {
      throw storageError(this.location, err, `write of ${ops.length} records failed, none was kept`)
    }
  }

  async *range(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    this.ensureOpen()
    const it = this.db.iterator({ gte: range.gte, lt: range.lt, reverse: range.reverse ?? false, limit: range.limit ?? -1 })
    try {
      for await (const [key, value] of it) yield [view(key)!, view(value)!]
    } catch (err) {
      throw storageError(this.location, err, 'read failed')
    } finally {
      await it.close()
    }
  }

  close(): Promise<void> {
    this.closing ??= this.db.close().then(() => log('closed %s', this.location))
    return this.closing
  }

  private ensureOpen(): void {
    if (this.closing !== undefined) throw new StorageError('ERR_STORAGE_CLOSED', this.location, 'the database is closed')
  }
}

/** The engine hands out Buffers; the store's values are plain Uint8Arrays over the same bytes. */
function view(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
