import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Creates `path` and its missing parents. Not `mkdirSync(path, { recursive: true })`: on a
 * read-only file system Node's recursive mkdir reports ENOENT instead of EROFS, and the
 * node must say the dataDir is read-only, not that it is missing.
 */
export function makeDir(path: string): void {
  try {
    mkdirSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return
    if (code !== 'ENOENT' || dirname(path) === path) throw err
    makeDir(dirname(path))
    mkdirSync(path)
  }
}
