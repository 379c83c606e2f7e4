import { Hardfork } from '@ethereumjs/common'

import { ForkIdError } from './errors'

import type { Common } from '@ethereumjs/common'
import type { ForkIdValue } from './ethmessages'

/**
 * EIP-2124 fork identifiers (with EIP-6122's time-based forks): a CRC32 over
 * the genesis hash and every passed fork, plus the next scheduled fork.
 */

export type ForkId = ForkIdValue

/** Where our chain is: the head block's number and timestamp. */
export interface ForkIdHead {
  number: bigint
  timestamp: bigint
}

/** The genesis block's hash and timestamp (time-based forks at or before it do not count). */
export interface GenesisInfo {
  hash: Uint8Array
  timestamp: bigint
}

/**
 * A remote `next` above this is a timestamp, below it a block number: the
 * mainnet genesis timestamp, the same cut geth uses, since block numbers
 * will not reach it and fork timestamps are all later.
 */
const TIMESTAMP_THRESHOLD = 1438269973n

interface ForkSchedule {
  /** Block-numbered forks, ascending, deduplicated, genesis excluded. */
  blocks: bigint[]
  /** Time-based forks, ascending, deduplicated, at-or-before-genesis excluded. */
  times: bigint[]
}

function schedule(common: Common, genesisTimestamp: bigint): ForkSchedule {
  const blocks = new Set<bigint>()
  const times = new Set<bigint>()
  for (const hf of common.hardforks()) {
    // The merge is a total-difficulty transition; its block number is retrospective, not a fork point.
    if (hf.name === Hardfork.Paris) continue
    if (hf.timestamp !== undefined && hf.timestamp !== null) {
      const t = BigInt(hf.timestamp)
      if (t > genesisTimestamp) times.add(t)
    } else if (hf.block !== null && hf.block !== undefined) {
      const b = BigInt(hf.block)
      if (b > 0n) blocks.add(b)
    }
  }
  const asc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0)
  return { blocks: [...blocks].sort(asc), times: [...times].sort(asc) }
}

// ---- CRC32 (IEEE), as EIP-2124 specifies ----

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}

function uint64(value: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, value)
  return out
}

function checksumBytes(sum: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, sum)
  return out
}

/** sums[i] = checksum after applying the first i forks of `forks`. */
function checksums(genesisHash: Uint8Array, forks: bigint[]): number[] {
  const sums = [crc32Update(0, genesisHash)]
  for (const f of forks) sums.push(crc32Update(sums[sums.length - 1], uint64(f)))
  return sums
}

/** Index of the first fork not yet passed at `head` (forks.length if all passed). */
function currentIndex(s: ForkSchedule, head: ForkIdHead): number {
  for (let i = 0; i < s.blocks.length; i++) if (head.number < s.blocks[i]) return i
  for (let i = 0; i < s.times.length; i++) if (head.timestamp < s.times[i]) return s.blocks.length + i
  return s.blocks.length + s.times.length
}

/** Our fork id at `head`. */
export function computeForkId(common: Common, head: ForkIdHead, genesis: GenesisInfo): ForkId {
  const s = schedule(common, genesis.timestamp)
  const forks = [...s.blocks, ...s.times]
  const i = currentIndex(s, head)
  const sums = checksums(genesis.hash, forks.slice(0, i))
  return { hash: checksumBytes(sums[i]), next: i < forks.length ? forks[i] : 0n }
}

function hex(sum: number | Uint8Array): string {
  if (typeof sum === 'number') return `0x${sum.toString(16).padStart(8, '0')}`
  return `0x${Array.from(sum, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/**
 * Validates a remote fork id against our chain at `head` by EIP-2124's rules;
 * throws ForkIdError (reason 'remote-stale' or 'local-incompatible-or-stale').
 */
export function validateForkId(common: Common, head: ForkIdHead, genesis: GenesisInfo, remote: ForkId): void {
  if (remote.hash.length !== 4) throw new ForkIdError('local-incompatible-or-stale', 'fork hash is not 4 bytes')
  const s = schedule(common, genesis.timestamp)
  const forks = [...s.blocks, ...s.times]
  const sums = checksums(genesis.hash, forks)
  const remoteSum = new DataView(remote.hash.buffer, remote.hash.byteOffset, 4).getUint32(0)
  const i = currentIndex(s, head)

  // Rule 1: same fork state. Reject only if the remote announces a next fork we already passed without it.
  if (sums[i] === remoteSum) {
    const passed =
      remote.next > 0n &&
      (head.number >= remote.next || (remote.next > TIMESTAMP_THRESHOLD && head.timestamp >= remote.next))
    if (passed) {
      throw new ForkIdError(
        'local-incompatible-or-stale',
        `remote announces a fork at ${remote.next} which we already passed (head ${head.number}/${head.timestamp})`,
      )
    }
    return
  }
  // Rule 2: the remote is behind us (its hash is one of our past states): it must know the fork that followed.
  for (let j = 0; j < i; j++) {
    if (sums[j] !== remoteSum) continue
    if (forks[j] !== remote.next) {
      throw new ForkIdError(
        'remote-stale',
        `remote at ${hex(remoteSum)} expects next fork ${remote.next}, but ours was at ${forks[j]}: remote needs a software update`,
      )
    }
    return
  }
  // Rule 3: the remote is ahead of us (its hash is one of our future states): it may be synced further.
  for (let j = i + 1; j < sums.length; j++) if (sums[j] === remoteSum) return
  // Rule 4: an unknown fork state.
  throw new ForkIdError(
    'local-incompatible-or-stale',
    `remote fork hash ${hex(remote.hash)} is not on our chain (ours ${hex(sums[i])})`,
  )
}
