import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { KvOp, KvRange, KvStore } from '../../src/client/db/kvstore'

/** A fresh directory under the OS temp dir; `remove()` deletes it. */
export function tempDir(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `ethp2p-${label}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

/**
 * A small tmpfs mounted at a fresh directory (root only: it needs mount). `readOnly()` makes
 * it read-only, `resize()` gives it another size (room again after filling it); `unmount()`
 * removes it.
 */
export function smallTmpfs(sizeKiB: number): { path: string; readOnly: () => void; resize: (sizeKiB: number) => void; unmount: () => void } {
  const dir = tempDir('tmpfs')
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir.path])
  return {
    path: dir.path,
    readOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir.path]),
    resize: (size) => execFileSync('mount', ['-o', `remount,size=${size}k`, dir.path]),
    unmount: () => {
      execFileSync('umount', [dir.path])
      dir.remove()
    },
  }
}

/**
 * A directory the process cannot write: a read-only tmpfs when running as root (root writes
 * through file modes), else a directory with mode 0555.
 */
export function readOnlyDir(): { path: string; remove: () => void } {
  if (isRoot) {
    const fs = smallTmpfs(64)
    mkdirSync(join(fs.path, 'data'))
    fs.readOnly()
    return { path: join(fs.path, 'data'), remove: fs.unmount }
  }
  const dir = tempDir('ro')
  chmodSync(dir.path, 0o555)
  return { path: dir.path, remove: () => (chmodSync(dir.path, 0o755), dir.remove()) }
}

/** A KvStore whose batches fail with `error()` once `failAfter` more batches have gone through. */
export class FailingKvStore implements KvStore {
  readonly location: string
  private remaining = Number.POSITIVE_INFINITY
  batches = 0

  constructor(
    private readonly inner: KvStore,
    private readonly error: () => Error,
  ) {
    this.location = inner.location
  }

  failAfter(batches: number): void {
    this.remaining = batches
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.inner.get(key)
  }

  async batch(ops: readonly KvOp[]): Promise<void> {
    if (this.remaining-- <= 0) throw this.error()
    this.batches++
    await this.inner.batch(ops)
  }

  range(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.inner.range(range)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
