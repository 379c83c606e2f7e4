/**
 * The eth versions and their message sets: codes, names, which messages each
 * version has, which requests answer which, the version thresholds the codec
 * (ethmessages.ts) switches on, and how much we ask for per request.
 */

export const EthCode = {
  Status: 0x00,
  NewBlockHashes: 0x01,
  Transactions: 0x02,
  GetBlockHeaders: 0x03,
  BlockHeaders: 0x04,
  GetBlockBodies: 0x05,
  BlockBodies: 0x06,
  NewBlock: 0x07,
  NewPooledTransactionHashes: 0x08,
  GetPooledTransactions: 0x09,
  PooledTransactions: 0x0a,
  GetNodeData: 0x0d,
  NodeData: 0x0e,
  GetReceipts: 0x0f,
  Receipts: 0x10,
  BlockRangeUpdate: 0x11,
} as const

export type EthMessageName = keyof typeof EthCode
export type EthVersion = 66 | 67 | 68 | 69 | 70

/** Supported versions, highest (preferred) first. */
export const ETH_VERSIONS: readonly EthVersion[] = [70, 69, 68, 67, 66]

/** First version whose receipts travel without the bloom (EIP-7642). */
export const FIRST_BLOOMLESS_RECEIPTS_VERSION = 69
/** First version whose GetReceipts/Receipts carry partial lists (EIP-7975). */
export const FIRST_PARTIAL_RECEIPTS_VERSION = 70

const ALL_NAMES = Object.keys(EthCode) as EthMessageName[]
const without = (...names: EthMessageName[]): EthMessageName[] => ALL_NAMES.filter((n) => !names.includes(n))

/**
 * Messages of each version: eth/67 dropped GetNodeData/NodeData; eth/68 only
 * changed a payload; eth/69 dropped the block announcements (NewBlockHashes,
 * NewBlock: receiving one there is a protocol error, as in geth) and added
 * BlockRangeUpdate; eth/70 only changed the receipt messages' payloads.
 */
export const ETH_MESSAGES: Readonly<Record<EthVersion, readonly EthMessageName[]>> = {
  66: without('BlockRangeUpdate'),
  67: without('BlockRangeUpdate', 'GetNodeData', 'NodeData'),
  68: without('BlockRangeUpdate', 'GetNodeData', 'NodeData'),
  69: without('GetNodeData', 'NodeData', 'NewBlockHashes', 'NewBlock'),
  70: without('GetNodeData', 'NodeData', 'NewBlockHashes', 'NewBlock'),
}

const RESPONSE_OF = {
  GetBlockHeaders: 'BlockHeaders',
  GetBlockBodies: 'BlockBodies',
  GetPooledTransactions: 'PooledTransactions',
  GetNodeData: 'NodeData',
  GetReceipts: 'Receipts',
} as const

export type EthRequestName = keyof typeof RESPONSE_OF
export type EthResponseName = (typeof RESPONSE_OF)[EthRequestName]
export type ResponseOf<R extends EthRequestName> = (typeof RESPONSE_OF)[R]

const RESPONSE_NAMES = new Set<string>(Object.values(RESPONSE_OF))

export function isRequest(name: string): name is EthRequestName {
  return Object.hasOwn(RESPONSE_OF, name)
}

export function isResponse(name: string): name is EthResponseName {
  return RESPONSE_NAMES.has(name)
}

export function responseOf<R extends EthRequestName>(name: R): ResponseOf<R>
export function responseOf(name: string): EthResponseName | undefined
export function responseOf(name: string): EthResponseName | undefined {
  return isRequest(name) ? RESPONSE_OF[name] : undefined
}

export function isEthVersion(version: number): version is EthVersion {
  return (ETH_VERSIONS as readonly number[]).includes(version)
}

/** Whether eth/`version` sends receipts without their bloom (eth/69+, EIP-7642; ethreceipts.ts). */
export function receiptsWithoutBloom(version: number): boolean {
  return version >= FIRST_BLOOMLESS_RECEIPTS_VERSION
}

/** Whether eth/`version`'s receipt messages carry partial lists (eth/70+). */
export function hasPartialReceipts(version: number): boolean {
  return version >= FIRST_PARTIAL_RECEIPTS_VERSION
}

const NAMES_BY_VERSION = new Map<number, Map<number, EthMessageName>>(
  ETH_VERSIONS.map((v) => [v, new Map(ETH_MESSAGES[v].map((n) => [EthCode[n], n]))]),
)

/** The message name of `code` on `version`, or undefined if that version has no such message. */
export function messageName(code: number, version: number): EthMessageName | undefined {
  return NAMES_BY_VERSION.get(version)?.get(code)
}

/**
 * Most headers we ask a peer for in one GetBlockHeaders. geth serves at most
 * 1024 per request (maxHeadersServe); asking for more only gets truncated
 * answers. The decoder does not use `max` to allocate anything.
 */
export const MAX_HEADERS_PER_REQUEST = 1024
/** Most hashes we put in one GetBlockBodies/GetReceipts/GetPooledTransactions/GetNodeData: geth's serve limits are of this order. */
export const MAX_HASHES_PER_REQUEST = 1024
