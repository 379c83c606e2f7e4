import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { Config } from '../../../src/client/config'
import { NODE_KEY_FILE, loadOrCreateNodeKey } from '../../../src/client/db/nodekey'
import { ConfigError } from '../../../src/client/errors'
import { expectThrowsTyped } from '../../reliability/table'
import { tempDir } from '../../utils/disk'

describe('node key in <dataDir>/nodekey', () => {
  it('is created on first start as 64 hex characters (geth form), private to the owner, and read back on the next', () => {
    const dir = tempDir('nodekey')
    try {
      const data = join(dir.path, 'node-a')
      const first = new Config({ dataDir: data })
      const text = readFileSync(join(data, NODE_KEY_FILE), 'latin1')
      expect(text).toMatch(/^[0-9a-f]{64}$/)
      expect(text).toBe(Buffer.from(first.key).toString('hex'))
      expect(statSync(join(data, NODE_KEY_FILE)).mode & 0o777).toBe(0o600)
      const second = new Config({ dataDir: data })
      expect(second.nodeId).toEqual(first.nodeId)
    } finally {
      dir.remove()
    }
  })

  it('reads a key geth wrote (with a trailing newline), and --key overrides without touching the file', () => {
    const dir = tempDir('nodekey-geth')
    try {
      const hex = '4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
      writeFileSync(join(dir.path, NODE_KEY_FILE), `${hex}\n`)
      expect(Buffer.from(new Config({ dataDir: dir.path }).key).toString('hex')).toBe(hex)
      const other = new Uint8Array(32).fill(7)
      expect(new Config({ dataDir: dir.path, key: other }).key).toEqual(other)
      expect(readFileSync(join(dir.path, NODE_KEY_FILE), 'latin1')).toBe(`${hex}\n`)
    } finally {
      dir.remove()
    }
  })

  it('an empty dataDir option is a ConfigError', () => {
    expect(expectThrowsTyped(() => new Config({ dataDir: ' ' }), ConfigError, 'ERR_CONFIG_INVALID').option).toBe('dataDir')
  })
})
