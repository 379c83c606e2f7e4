import { closeSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

import { isValidPrivateKey, randomPrivateKey } from '../../p2p'

import { ConfigError } from '../errors'
import { StorageError, storageError } from './errors'
import { makeDir } from './files'

/** The node key's file in a dataDir, named as geth names it. */
export const NODE_KEY_FILE = 'nodekey'

/**
 * The node's private key from `<dataDir>/nodekey` (64 hex characters, as geth keeps it;
 * surrounding whitespace is ignored), created with a new random key on first start. The file
 * appears whole or not at all (written aside, then linked into place), so a node killed
 * while creating it, or two started at once, never read half a key.
 */
export function loadOrCreateNodeKey(dataDir: string): Uint8Array {
  const file = join(dataDir, NODE_KEY_FILE)
  const existing = readKeyFile(file)
  if (existing !== undefined) return existing
  try {
    makeDir(dataDir)
  } catch (err) {
    throw storageError(dataDir, err, 'cannot create the dataDir')
  }
  const key = randomPrivateKey()
  const aside = `${file}.${process.pid}.tmp`
  try {
    const fd = openSync(aside, 'w', 0o600)
    try {
      writeSync(fd, Buffer.from(key).toString('hex'))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    linkSync(aside, file) // fails with EEXIST if another process created it first
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError(dataDir, err, `cannot write ${file}`)
  } finally {
    try {
      unlinkSync(aside)
    } catch {
      // The aside file was never created (the first write failed): nothing to remove.
    }
  }
  const stored = readKeyFile(file)
  if (stored === undefined) throw new StorageError('ERR_STORAGE_IO', dataDir, `${file} vanished right after it was written`)
  return stored
}

function readKeyFile(file: string): Uint8Array | undefined {
  let text: string
  try {
    text = readFileSync(file, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storageError(file, err, 'cannot read the node key')
  }
  const hex = text.trim()
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError('dataDir', `${file} does not hold a node key (expected 64 hex characters, found ${text.length} characters)`)
  const key = Uint8Array.from(Buffer.from(hex, 'hex'))
  if (!isValidPrivateKey(key)) throw new ConfigError('dataDir', `${file} holds no valid secp256k1 private key (zero or >= the curve order)`)
  return key
}
