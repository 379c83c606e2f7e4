import { afterAll, beforeAll, expect } from 'vitest'

import { Config, ConfigError, Event, MAX_SERVE_ITEMS, type EthereumClient } from '../../src/client'
import { EthCode, type EthMessages, type EthStatus, encodeEthPayload } from '../../src/client/net/protocol/ethmessages'
import { uintBytes } from '../../src/client/net/protocol/rlpfields'
import { type TestChain, buildTestChain, makeTestTx } from '../../src/client/testing/testchain'
import { DisconnectReason, describeDisconnectReason } from '../../src/p2p'
import { chainWith, startNode, testCommon } from '../client/helpers/nodes'
import { type RawEthSession, rawRlpxSession, rawStreamSession } from '../client/helpers/raw-peers'
import { WAIT_MS, collect, waitUntil } from '../client/helpers/waits'
import { badInput, badInputTable, expectThrowsTyped } from './table'

import type { Input } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'

/**
 * How a node treats a peer, as geth does, on both paths (an RLPx session from
 * a bare devp2p peer, an ETH stream from a bare stack connection): a
 * transaction of another chain is dropped by the pool, not held against the
 * relaying peer; GetBlockHeaders counts are uint64 and clamped; maxServeItems
 * caps every reply; a protocol violation ends the session with
 * SUBPROTOCOL_ERROR (the Disconnect the remote sees on RLPx), a missing
 * Status with TIMEOUT.
 */

const BLOCKS = 8
const VERSION = 68
const UINT64_MAX = 2n ** 64n - 1n
/** maxServeItems of the `small` nodes: below what the chain could answer. */
const SMALL_SERVE = 3
/** statusTimeoutMs of the `small` nodes, so a silent remote times out quickly. */
const SMALL_STATUS_TIMEOUT_MS = 300
/** Mainnet's chain id: a transaction a peer may relay without knowing our chain. */
const OTHER_CHAIN_ID = 1

type Path = 'rlpx' | 'p2p'
const PATHS: readonly Path[] = ['rlpx', 'p2p']

let source: TestChain
const nodes = new Map<string, { client: EthereumClient; url: string }>()
const sessions: RawEthSession[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 2, seed: 'eth-policy' })
  for (const path of PATHS) {
    nodes.set(`${path}/default`, await node(path, {}))
    nodes.set(`${path}/small`, await node(path, { maxServeItems: SMALL_SERVE, statusTimeoutMs: SMALL_STATUS_TIMEOUT_MS }))
  }
}, 60_000)

afterAll(async () => {
  for (const s of sessions.splice(0)) await s.close()
  for (const n of nodes.values()) await n.client.stop()
})

async function node(path: Path, opts: { maxServeItems?: number; statusTimeoutMs?: number }): Promise<{ client: EthereumClient; url: string }> {
  const common = testCommon()
  return startNode({ common, discV4: false, useP2PServer: path === 'p2p', chain: await chainWith(common, source.blocks, source.receipts), ...opts })
}

function target(path: Path, kind: 'default' | 'small' = 'default'): { client: EthereumClient; url: string } {
  return nodes.get(`${path}/${kind}`)!
}

async function session(path: Path, url: string): Promise<RawEthSession> {
  const s = path === 'rlpx' ? await rawRlpxSession(url, VERSION, testCommon()) : await rawStreamSession(url, VERSION, testCommon())
  sessions.push(s)
  return s
}

function statusOf(client: EthereumClient): EthStatus {
  return client.service.protocols[0]!.createStatus(VERSION)
}

const ctx = { version: VERSION, common: testCommon() }

/** GetBlockHeaders with raw uint64 fields (the codec's encoder takes JS numbers only). */
function headersQuery(reqId: bigint, origin: bigint, max: bigint, skip: bigint, reverse: boolean): [number, Input] {
  return [EthCode.GetBlockHeaders, [uintBytes(reqId), [uintBytes(origin), uintBytes(max), uintBytes(skip), reverse ? Uint8Array.of(1) : new Uint8Array(0)]]]
}

async function headersReply(s: RawEthSession, reqId: bigint): Promise<bigint[]> {
  const reply = (await s.next(EthCode.BlockHeaders)).data as EthMessages['BlockHeaders']
  expect(reply.reqId).toBe(reqId)
  return reply.headers.map((h) => h.number)
}

let txIndex = 0
function tx(chainId: number): TypedTransaction {
  const i = txIndex++
  // A nonce far ahead of the chain's: valid for the pool, never in a block.
  return makeTestTx(testCommon(chainId), { kind: '1559-transfer', from: source.accounts[i % source.accounts.length]!, nonce: 10_000n + BigInt(i), seed: 'eth-policy', index: i })
}

async function mixedTransactions(path: Path): Promise<void> {
  const { client, url } = target(path)
  const pool = client.service.txPool
  const bans = collect(client.config.events, Event.POOL_PEER_BANNED)
  const protocolErrors = collect(client.config.events, Event.PROTOCOL_ERROR)
  try {
    const [good1, foreign, good2] = [tx(Number(testCommon().chainId())), tx(OTHER_CHAIN_ID), tx(Number(testCommon().chainId()))]
    const s = await session(path, url)
    s.sendAll(statusOf(client), [[EthCode.Transactions, encodeEthPayload('Transactions', { txs: [good1!, foreign!, good2!] }, ctx)]])
    await waitUntil([pool], ['added'], () => pool.has(good1!.hash()) && pool.has(good2!.hash()), { describe: () => `pool has ${pool.size}` })
    expect(pool.has(foreign!.hash())).toBe(false)
    // The session still serves: the peer was kept.
    s.send([headersQuery(5n, 0n, 1n, 0n, false)])
    expect(await headersReply(s, 5n)).toEqual([0n])
    expect(s.open).toBe(true)
    expect(bans.items).toEqual([])
    expect(protocolErrors.items).toEqual([])
  } finally {
    bans.stop()
    protocolErrors.stop()
  }
}

async function uint64Counts(path: Path): Promise<void> {
  const { client, url } = target(path)
  const s = await session(path, url)
  s.sendAll(statusOf(client), [
    headersQuery(1n, 0n, UINT64_MAX, 0n, false),
    headersQuery(2n, 2n, UINT64_MAX, UINT64_MAX, false),
    headersQuery(3n, BigInt(BLOCKS), UINT64_MAX, UINT64_MAX, true),
  ])
  const all = Array.from({ length: BLOCKS + 1 }, (_, i) => BigInt(i))
  expect(await headersReply(s, 1n)).toEqual(all)
  // The next header would be 2^64 blocks away, in either direction: the origin alone.
  expect(await headersReply(s, 2n)).toEqual([2n])
  expect(await headersReply(s, 3n)).toEqual([BigInt(BLOCKS)])
  expect(s.open).toBe(true)
}

async function serveCap(path: Path): Promise<void> {
  const { client, url } = target(path, 'small')
  const hashes = source.blocks.map((b) => b.hash())
  const s = await session(path, url)
  s.sendAll(statusOf(client), [
    headersQuery(1n, 0n, UINT64_MAX, 0n, false),
    [EthCode.GetBlockBodies, encodeEthPayload('GetBlockBodies', { reqId: 2n, hashes }, ctx)],
    [EthCode.GetReceipts, encodeEthPayload('GetReceipts', { reqId: 3n, hashes }, ctx)],
  ])
  expect(await headersReply(s, 1n)).toEqual([0n, 1n, 2n])
  const bodies = (await s.next(EthCode.BlockBodies)).data as EthMessages['BlockBodies']
  expect(bodies.bodies).toHaveLength(SMALL_SERVE)
  const receipts = (await s.next(EthCode.Receipts)).data as EthMessages['Receipts']
  expect(receipts.receipts).toHaveLength(SMALL_SERVE)
}

/** Waits for the node to report the session's end and returns the reason text it reports. */
function endReason(client: EthereumClient, path: Path, connected: boolean): Promise<string> {
  // A session that got through Status ends in PEER_DISCONNECTED; on the P2P stack a refused handshake only in CONNECTION_CLOSED.
  if (connected) return client.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS }).then(([, r]) => r)
  if (path === 'p2p') return client.config.events.waitFor(Event.CONNECTION_CLOSED, { timeoutMs: WAIT_MS }).then(([, r]) => r)
  return Promise.resolve('')
}

async function violation(path: Path): Promise<void> {
  const { client, url } = target(path)
  const s = await session(path, url)
  const reported = endReason(client, path, true)
  // Wrong arity: [reqId, [origin]] is no GetBlockHeaders.
  s.sendAll(statusOf(client), [[EthCode.GetBlockHeaders, [uintBytes(1n), [uintBytes(1n)]]]])
  const reason = await s.ended
  expect(await reported).toMatch(/^subprotocol error \(0x10\)/)
  // On RLPx the remote is told; mplex has no Disconnect message.
  expect(reason).toBe(path === 'rlpx' ? DisconnectReason.SUBPROTOCOL_ERROR : undefined)
}

async function statusTimeout(path: Path): Promise<void> {
  const { client, url } = target(path, 'small')
  const reported = endReason(client, path, false)
  const s = await session(path, url)
  const reason = await s.ended
  expect(reason).toBe(path === 'rlpx' ? DisconnectReason.TIMEOUT : undefined)
  if (path === 'p2p') expect(await reported).toMatch(/^read timeout \(0x0b\)/)
}

const onPath = (path: Path): string => (path === 'rlpx' ? 'RLPx session' : 'ETH stream')

badInputTable(
  'eth',
  'treatment of a peer as geth treats it (both paths)',
  PATHS.flatMap((path) => [
    {
      case: `${onPath(path)}: Transactions with a transaction signed for another chain between two good ones`,
      expected: 'the good two are pooled, the other is dropped by the pool (not the decoder); no PROTOCOL_ERROR, no ban; the session keeps serving',
      run: () => mixedTransactions(path),
    },
    {
      case: `${onPath(path)}: GetBlockHeaders with max 2^64-1, then with max and skip 2^64-1 forward and reverse`,
      expected: 'answered: every header to the head, then the origin alone each time (the next is 2^64 blocks away); no error',
      run: () => uint64Counts(path),
    },
    {
      case: `${onPath(path)}: GetBlockHeaders (max 2^64-1), GetBlockBodies and GetReceipts of ${BLOCKS} hashes to a node with maxServeItems ${SMALL_SERVE}`,
      expected: `each answered with ${SMALL_SERVE} items: the config's cap governs every reply`,
      run: () => serveCap(path),
    },
    {
      case: `${onPath(path)}: a malformed GetBlockHeaders after Status (a protocol violation)`,
      expected: `banned, and the session ends with ${describeDisconnectReason(DisconnectReason.SUBPROTOCOL_ERROR)}${path === 'rlpx' ? ': the bare devp2p remote receives that Disconnect code' : ' in PEER_DISCONNECTED (mplex carries no reason)'}`,
      run: () => violation(path),
    },
    {
      case: `${onPath(path)}: no Status within statusTimeoutMs (${SMALL_STATUS_TIMEOUT_MS} ms)`,
      expected: `the session ends with ${describeDisconnectReason(DisconnectReason.TIMEOUT)}${path === 'rlpx' ? ', the Disconnect code the remote receives' : ' in CONNECTION_CLOSED'}`,
      run: () => statusTimeout(path),
    },
  ]),
)

badInput('node', {
  case: `Config with maxServeItems ${MAX_SERVE_ITEMS + 1}`,
  expected: `ConfigError (ERR_CONFIG_INVALID, option maxServeItems): above MAX_SERVE_ITEMS (${MAX_SERVE_ITEMS}, geth's fixed serve limits); ${MAX_SERVE_ITEMS} is accepted`,
  run: () => {
    const err = expectThrowsTyped(() => new Config({ common: testCommon(), maxServeItems: MAX_SERVE_ITEMS + 1 }), ConfigError, 'ERR_CONFIG_INVALID')
    expect(err.option).toBe('maxServeItems')
    expect(new Config({ common: testCommon(), maxServeItems: MAX_SERVE_ITEMS }).maxServeItems).toBe(MAX_SERVE_ITEMS)
  },
})
