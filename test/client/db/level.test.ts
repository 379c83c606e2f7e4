import { spawn } from 'node:child_process'
import { join } from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { StorageError } from '../../../src/client/db/errors'
import { prefixRange, prefixed, readUint64Key, uint64Key } from '../../../src/client/db/kvstore'
import { LevelKvStore } from '../../../src/client/db/level'
import { ConfigError } from '../../../src/client/errors'
import { expectRejectsTyped, expectThrowsTyped } from '../../reliability/table'
import { tempDir } from '../../utils/disk'

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs)

describe('LevelKvStore', () => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
  })
  async function open(path?: string): Promise<LevelKvStore> {
    let dir = path
    if (dir === undefined) {
      const made = tempDir('level')
      cleanups.push(made.remove)
      dir = made.path
    }
    const kv = await LevelKvStore.open(dir, { dataDir: dir })
    cleanups.push(() => kv.close())
    return kv
  }

  it('applies a batch of puts and deletes, reads them back, ranges in key order', async () => {
    const kv = await open()
    await kv.batch([
      { type: 'put', key: b(1, 2), value: b(9) },
      { type: 'put', key: b(1, 1), value: b(8) },
      { type: 'put', key: b(2), value: b(7) },
      { type: 'put', key: b(1, 0xff), value: b(6) },
    ])
    await kv.batch([{ type: 'del', key: b(1, 2) }])
    expect(kv.get(b(1, 1))).toEqual(b(8))
    expect(kv.get(b(1, 2))).toBeUndefined()
    const keys: number[][] = []
    for await (const [k] of kv.range(prefixRange(b(1)))) keys.push([...k])
    expect(keys).toEqual([
      [1, 1],
      [1, 0xff],
    ])
  })

  it('keeps its data across close and reopen', async () => {
    const dir = tempDir('level')
    cleanups.push(dir.remove)
    const first = await LevelKvStore.open(dir.path, { dataDir: dir.path })
    await first.batch([{ type: 'put', key: b(5), value: b(6) }])
    await first.close()
    await first.close() // idempotent
    const second = await open(dir.path)
    expect(second.get(b(5))).toEqual(b(6))
  })

  it('refuses use after close with ERR_STORAGE_CLOSED', async () => {
    const kv = await open()
    await kv.close()
    expectThrowsTyped(() => kv.get(b(1)), StorageError, 'ERR_STORAGE_CLOSED')
    await expectRejectsTyped(kv.batch([{ type: 'put', key: b(1), value: b(1) }]), StorageError, 'ERR_STORAGE_CLOSED')
  })

  it('key helpers: prefixed keys, 8-byte big-endian numbers sort numerically, prefix ranges end after 0xff', () => {
    expect(prefixed(b(1), b(2, 3))).toEqual(b(1, 2, 3))
    expect(readUint64Key(uint64Key(258n))).toBe(258n)
    expect(Buffer.compare(uint64Key(255n), uint64Key(256n))).toBe(-1)
    expect(prefixRange(b(1, 0xff))).toEqual({ gte: b(1, 0xff), lt: b(2) })
    expect(() => prefixRange(b(0xff))).toThrow(RangeError)
  })
})

describe('LevelKvStore: the dataDir lock', () => {
  it('is held against another process, and released when the holder is killed', async () => {
    const dir = tempDir('lock-proc')
    const db = join(dir.path, 'chaindata')
    const script = `import { LevelKvStore } from ${JSON.stringify(join(process.cwd(), 'src/client/db/level.ts'))}; await LevelKvStore.open(${JSON.stringify(db)}, { dataDir: 'x' }); console.log('held'); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve())
        child.once('exit', (code) => reject(new Error(`holder exited early with ${code}`)))
      })
      const err = await expectRejectsTyped(LevelKvStore.open(db, { dataDir: dir.path }), ConfigError, 'ERR_CONFIG_INVALID')
      expect(err.message).toMatch(/in use by another process/)
      child.kill('SIGKILL')
      await exited
      const kv = await LevelKvStore.open(db, { dataDir: dir.path })
      await kv.close()
    } finally {
      child.kill('SIGKILL')
      await exited
      dir.remove()
    }
  })
})
