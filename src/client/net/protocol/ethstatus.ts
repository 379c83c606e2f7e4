import { EthEncodeError, InvalidBlockRangeError } from './errors'
import { type RlpItem, asBigInt, asFixedBytes, asHash, asList, asNumber, asTuple, uintBytes } from './rlpfields'

import type { Input } from '@ethereumjs/rlp'

/**
 * The Status message in its two wire forms, and the block range eth/69
 * introduced (EIP-7642): up to eth/68 a node names its head by total
 * difficulty and best hash; from eth/69 on by the range of full blocks it
 * serves, `[earliest, latest, latestHash]`, the same triple BlockRangeUpdate
 * (0x11) carries later in the session.
 */

/** First eth version whose Status carries a block range instead of td/best hash. */
export const FIRST_RANGE_STATUS_VERSION = 69

/** Largest total difficulty accepted: a uint256. */
export const MAX_TD_BYTES = 32

export interface ForkIdValue {
  hash: Uint8Array
  next: bigint
}

/** The full blocks a node serves (bodies and receipts): `earliestBlock..latestBlock`, and the latest one's hash. */
export interface BlockRange {
  earliestBlock: bigint
  latestBlock: bigint
  latestBlockHash: Uint8Array
}

interface StatusCommon {
  version: number
  networkId: bigint
  genesisHash: Uint8Array
  forkId: ForkIdValue
}

/** Status of eth/66..68: `[version, networkid, td, blockhash, genesis, forkid]`. */
export interface EthStatusTd extends StatusCommon {
  td: bigint
  bestHash: Uint8Array
}

/** Status of eth/69+: `[version, networkid, genesis, forkid, earliestBlock, latestBlock, latestBlockHash]`. */
export interface EthStatusRange extends StatusCommon, BlockRange {}

export type EthStatus = EthStatusTd | EthStatusRange

/** True for the eth/69+ form. */
export function hasBlockRange(status: EthStatus): status is EthStatusRange {
  return 'latestBlockHash' in status
}

/** Whether a session of `version` uses the block-range Status (eth/69 and later). */
export function usesBlockRange(version: number): boolean {
  return version >= FIRST_RANGE_STATUS_VERSION
}

/** The head a Status names: the best hash (and td) up to eth/68, the latest served block from eth/69 on. */
export function statusHead(status: EthStatus): { hash: Uint8Array; number?: bigint; td?: bigint } {
  if (hasBlockRange(status)) return { hash: status.latestBlockHash, number: status.latestBlock }
  return { hash: status.bestHash, td: status.td }
}

function encodeForkId(f: ForkIdValue): Input {
  return [f.hash, uintBytes(f.next)]
}

function decodeForkId(item: RlpItem | undefined): ForkIdValue {
  const forkId = asTuple(item, 2, 'forkId')
  return { hash: asFixedBytes(forkId[0], 4, 'forkId.hash'), next: asBigInt(forkId[1], 8, 'forkId.next') }
}

/** `[earliest, latest, latestHash]`: BlockRangeUpdate's payload and the tail of the eth/69 Status. */
export function encodeBlockRange(r: BlockRange): Input[] {
  return [uintBytes(r.earliestBlock), uintBytes(r.latestBlock), r.latestBlockHash]
}

export function decodeBlockRange(items: RlpItem[], what: string): BlockRange {
  return {
    earliestBlock: asBigInt(items[0], 8, `${what}.earliestBlock`),
    latestBlock: asBigInt(items[1], 8, `${what}.latestBlock`),
    latestBlockHash: asHash(items[2], `${what}.latestBlockHash`),
  }
}

/** The Status payload, in the form its `version` prescribes (a mismatch is a caller bug: EthEncodeError). */
export function encodeStatus(s: EthStatus): Input {
  const head = [uintBytes(s.version), uintBytes(s.networkId)]
  if (usesBlockRange(s.version)) {
    if (!hasBlockRange(s)) throw new EthEncodeError(`eth/${s.version} Status needs a block range`)
    return [...head, s.genesisHash, encodeForkId(s.forkId), ...encodeBlockRange(s)]
  }
  if (hasBlockRange(s)) throw new EthEncodeError(`eth/${s.version} Status carries td and best hash, not a block range`)
  return [...head, uintBytes(s.td), s.bestHash, s.genesisHash, encodeForkId(s.forkId)]
}

/**
 * Decodes the Status of a session of `sessionVersion`: the form is the
 * session's (a 6-item Status on eth/69 is malformed), the version field is
 * whatever the remote claims (Protocol.validateStatus compares it).
 */
export function decodeStatusItems(item: RlpItem, sessionVersion: number): EthStatus {
  const list = asList(item, 'status')
  if (usesBlockRange(sessionVersion)) {
    const s = asTuple(list, 7, 'status')
    return {
      version: asNumber(s[0], 'version'),
      networkId: asBigInt(s[1], 8, 'networkId'),
      genesisHash: asHash(s[2], 'genesisHash'),
      forkId: decodeForkId(s[3]),
      ...decodeBlockRange(s.slice(4), 'status'),
    }
  }
  const s = asTuple(list, 6, 'status')
  return {
    version: asNumber(s[0], 'version'),
    networkId: asBigInt(s[1], 8, 'networkId'),
    td: asBigInt(s[2], MAX_TD_BYTES, 'td'),
    bestHash: asHash(s[3], 'bestHash'),
    genesisHash: asHash(s[4], 'genesisHash'),
    forkId: decodeForkId(s[5]),
  }
}

/**
 * A block range the remote may announce (in its Status or a BlockRangeUpdate):
 * `earliest <= latest` (caps/eth.md: otherwise disconnect) and a latest hash
 * that is not all zeroes (geth's check). A range beyond our head or one that
 * starts after genesis (expired history) is valid: geth's ethtest cases
 * BlockRangeUpdateFuture and BlockRangeUpdateExpired expect it accepted.
 */
export function checkBlockRange(r: BlockRange, where: 'Status' | 'BlockRangeUpdate'): void {
  if (r.earliestBlock > r.latestBlock) {
    throw new InvalidBlockRangeError(where, `earliest block ${r.earliestBlock} > latest block ${r.latestBlock}`)
  }
  if (r.latestBlockHash.every((b) => b === 0)) throw new InvalidBlockRangeError(where, 'latest block hash is zero')
}
