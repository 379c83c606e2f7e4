import { ClientError } from '../errors'

/** Stable codes of every error the storage layer raises. */
export type StorageErrorCode =
  | 'ERR_STORAGE_CORRUPT' // a database file is damaged or truncated, or records contradict each other
  | 'ERR_STORAGE_READ_ONLY' // the dataDir (or the database in it) cannot be written
  | 'ERR_STORAGE_FULL' // the disk is full: a write was refused and nothing of it was kept
  | 'ERR_STORAGE_IO' // any other failure of the database to read, write or open
  | 'ERR_STORAGE_CLOSED' // used after close()

/**
 * A failure of the node's database. `location` names the database directory, so the message a
 * node exits with says which dataDir to look at. A write that fails leaves the database as it
 * was before that write (every write is one atomic batch).
 */
export class StorageError extends ClientError {
  declare readonly code: StorageErrorCode
  readonly location: string

  constructor(code: StorageErrorCode, location: string, message: string, options?: { cause?: unknown }) {
    super(code, `${message} (${location})`, options)
    this.location = location
  }
}

/**
 * A typed StorageError for a failure of the engine or the file system. LevelDB reports most
 * causes as text ("IO error: <file>: No space left on device"), so the text decides.
 */
export function storageError(location: string, err: unknown, what: string): StorageError {
  const e = err as { code?: string; message?: string }
  const text = `${e.code ?? ''} ${e.message ?? String(err)}`
  const code = classify(text)
  return new StorageError(code, location, `${what} (${MEANING[code]}): ${e.message ?? String(err)}`, { cause: err })
}

/** What each code tells an operator, in the message a node exits with. */
const MEANING: Record<StorageErrorCode, string> = {
  ERR_STORAGE_CORRUPT: 'the database is damaged or truncated',
  ERR_STORAGE_READ_ONLY: 'the dataDir is read-only',
  ERR_STORAGE_FULL: 'the disk is full',
  ERR_STORAGE_IO: 'an I/O error',
  ERR_STORAGE_CLOSED: 'the database is closed',
}

function classify(text: string): StorageErrorCode {
  if (/LEVEL_CORRUPTION|Corruption/i.test(text)) return 'ERR_STORAGE_CORRUPT'
  if (/ENOSPC|No space left/i.test(text)) return 'ERR_STORAGE_FULL'
  if (/EROFS|EACCES|EPERM|Read-only file system|Permission denied/i.test(text)) return 'ERR_STORAGE_READ_ONLY'
  // LevelDB names a file its manifest lists and the disk no longer has: part of it is gone.
  if (/IO error: .*No such file or directory/i.test(text)) return 'ERR_STORAGE_CORRUPT'
  // A table file shorter than the manifest records: LevelDB reads past its end (EINVAL).
  if (/IO error: \S+\.(ldb|sst): Invalid argument/i.test(text)) return 'ERR_STORAGE_CORRUPT'
  return 'ERR_STORAGE_IO'
}
