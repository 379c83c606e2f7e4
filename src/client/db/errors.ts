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
    super(code, `${message} (database ${location})`, options)
    this.location = location
  }
}
