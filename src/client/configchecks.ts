import { isIPv4 } from 'node:net'
import { resolve } from 'node:path'

import { isValidPrivateKey, randomPrivateKey } from '../p2p'

import { MAX_SERVE_ITEMS } from './configdefaults'
import { ConfigError } from './errors'
import { ETH_VERSIONS, type EthVersion, isEthVersion } from './net/protocol/ethmessages'
import { parseEnode } from './net/server/enode'

import type { Enode } from './net/server/enode'

// The validators Config runs on each option: every failure is a ConfigError naming the option.

export function checkInt(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value)) throw new ConfigError(option, `expected an integer, got ${String(value)}`)
  if (value < min || value > max) throw new ConfigError(option, `${value} is outside ${min}..${max}`)
  return value
}

export function checkMaxServeItems(value: number): number {
  if (Number.isInteger(value) && value > MAX_SERVE_ITEMS) {
    throw new ConfigError('maxServeItems', `${value} is above ${MAX_SERVE_ITEMS}, the most a reply carries (geth's serve limits, applied by the chain to every reply)`)
  }
  return checkInt('maxServeItems', value, 1)
}

export function checkEthVersions(versions: readonly number[]): readonly EthVersion[] {
  if (!Array.isArray(versions) || versions.length === 0) throw new ConfigError('ethVersions', 'expected a non-empty list of eth versions')
  const out: EthVersion[] = []
  for (const v of versions) {
    if (!isEthVersion(v)) throw new ConfigError('ethVersions', `eth/${String(v)} is not supported (supported: ${ETH_VERSIONS.join(', ')})`)
    if (out.includes(v)) throw new ConfigError('ethVersions', `eth/${v} is listed twice`)
    out.push(v)
  }
  return Object.freeze(out.sort((a, b) => b - a))
}

export function checkBool(option: string, value: boolean): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected true or false, got ${String(value)}`)
  return value
}

/** A duration in seconds, fractions allowed (a test network may produce several blocks a second). */
export function checkSeconds(option: string, value: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(option, `expected a number of seconds, got ${String(value)}`)
  if (value < 0 || value > max) throw new ConfigError(option, `${value} is outside 0..${max}`)
  return value
}

export function checkPort(option: string, value: number): number {
  return checkInt(option, value, 0, 65535)
}

export function checkIPv4(option: string, value: string): string {
  if (!isIPv4(value)) throw new ConfigError(option, `"${value}" is not an IPv4 address`)
  return value
}

export function checkDataDir(dir: string): string {
  if (typeof dir !== 'string' || dir.trim() === '') throw new ConfigError('dataDir', 'expected a directory path')
  return resolve(dir)
}

export function checkKey(key: Uint8Array | undefined): Uint8Array {
  if (key === undefined) return randomPrivateKey()
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new ConfigError('key', 'expected a 32-byte secp256k1 private key')
  }
  if (!isValidPrivateKey(key)) throw new ConfigError('key', 'not a valid secp256k1 private key (zero or >= curve order)')
  return key
}

export function parseBootnode(url: string, index: number): Enode {
  const parsed = typeof url === 'string' ? parseEnode(url) : `entry ${index} is not a string`
  if (typeof parsed === 'string') throw new ConfigError('bootnodes', parsed)
  return parsed
}
