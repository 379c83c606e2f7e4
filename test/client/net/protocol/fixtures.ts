import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'

import { Common } from '../../../../src/chain-config'
import { type TestChain, buildTestChain } from '../../../../src/client/testing/testchain'
import { type EthMessageName, type EthMessages, type EthVersion, ETH_MESSAGES } from '../../../../src/client/net/protocol/ethmessages'

import type { Block, BlockHeader } from '@ethereumjs/block'

/** Chain id of every protocol-layer test chain. */
export const TEST_CHAIN_ID = 4660

export function testCommon(chainId = TEST_CHAIN_ID): ReturnType<typeof Common.custom> {
  return Common.custom({ chainId, name: `h6-test-${chainId}` })
}

let cached: Promise<{ common: ReturnType<typeof Common.custom>; chain: TestChain }> | undefined

/** A small real chain (VM-executed, mixed tx kinds), built once per test file. */
export function loadTestChain(): Promise<{ common: ReturnType<typeof Common.custom>; chain: TestChain }> {
  cached ??= (async () => {
    const common = testCommon()
    const chain = await buildTestChain({ common, blocks: 4, txsPerBlock: 6, seed: 'h6' })
    return { common, chain }
  })()
  return cached
}

/** Bytes from a repeated byte value (deterministic test hashes). */
export function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value)
}

/** One sample payload of every message, built from real blocks, transactions and receipts. */
export function sampleMessages(chain: TestChain, version: EthVersion): { [N in EthMessageName]?: EthMessages[N][] } {
  const blocks = chain.blocks
  const headers = [chain.genesis.header, ...blocks.map((b) => b.header)]
  const hashes = blocks.map((b) => b.hash())
  const txs = blocks.flatMap((b) => [...b.transactions])
  const all: { [N in EthMessageName]: EthMessages[N][] } = {
    Status:
      version >= 69
        ? [
            { version, networkId: BigInt(TEST_CHAIN_ID), genesisHash: chain.genesis.hash(), forkId: { hash: filled(4, 7), next: 0n }, earliestBlock: 0n, latestBlock: 4n, latestBlockHash: hashes[3] },
            { version, networkId: 2n ** 64n - 1n, genesisHash: hashes[2], forkId: { hash: filled(4, 1), next: 1710338135n }, earliestBlock: 2n ** 64n - 1n, latestBlock: 2n ** 64n - 1n, latestBlockHash: hashes[1] },
          ]
        : [
            { version, networkId: BigInt(TEST_CHAIN_ID), td: 0n, bestHash: hashes[0], genesisHash: chain.genesis.hash(), forkId: { hash: filled(4, 7), next: 0n } },
            { version, networkId: 2n ** 64n - 1n, td: 2n ** 200n, bestHash: hashes[1], genesisHash: hashes[2], forkId: { hash: filled(4, 1), next: 1710338135n } },
          ],
    BlockRangeUpdate: [
      { earliestBlock: 0n, latestBlock: 4n, latestBlockHash: hashes[3] },
      { earliestBlock: 2n ** 64n - 1n, latestBlock: 2n ** 64n - 1n, latestBlockHash: filled(32, 0xff) },
    ],
    NewBlockHashes: [{ hashes: blocks.map((b) => [b.hash(), b.header.number] as [Uint8Array, bigint]) }, { hashes: [] }],
    Transactions: [{ txs }, { txs: [] }],
    GetBlockHeaders: [
      { reqId: 1n, block: 3n, max: 192, skip: 0, reverse: false },
      { reqId: 2n ** 64n - 1n, block: hashes[2], max: 1, skip: 5, reverse: true },
      { reqId: 0n, block: 0n, max: 0, skip: 0, reverse: false },
    ],
    BlockHeaders: [{ reqId: 7n, headers }, { reqId: 8n, headers: [] }],
    GetBlockBodies: [{ reqId: 9n, hashes }],
    BlockBodies: [{ reqId: 10n, bodies: blocks.map((b) => b.raw().slice(1) as never) }, { reqId: 11n, bodies: [] }],
    NewBlock: [{ block: blocks[2], td: 0n }, { block: blocks[3], td: 2n ** 100n }],
    NewPooledTransactionHashes:
      version >= 68
        ? [{ types: txs.map((t) => t.type), sizes: txs.map((t) => t.serialize().length), hashes: txs.map((t) => t.hash()) }]
        : [{ hashes: txs.map((t) => t.hash()) }],
    GetPooledTransactions: [{ reqId: 12n, hashes: txs.map((t) => t.hash()) }],
    PooledTransactions: [{ reqId: 13n, txs }],
    GetNodeData: [{ reqId: 14n, hashes }],
    NodeData: [{ reqId: 15n, data: [RLP.encode(['a', 'b']), new Uint8Array(0), filled(100, 3)] }],
    GetReceipts:
      version >= 70
        ? [{ reqId: 16n, hashes, firstBlockReceiptIndex: 0n }, { reqId: 19n, hashes: hashes.slice(1), firstBlockReceiptIndex: 2n ** 64n - 1n }]
        : [{ reqId: 16n, hashes }],
    Receipts:
      version >= 70
        ? [
            { reqId: 17n, receipts: chain.receipts, lastBlockIncomplete: false },
            { reqId: 18n, receipts: [[]], lastBlockIncomplete: false },
            { reqId: 20n, receipts: [chain.receipts[0]!, chain.receipts[1]!.slice(0, 2)], lastBlockIncomplete: true },
          ]
        : [{ reqId: 17n, receipts: chain.receipts }, { reqId: 18n, receipts: [[]] }],
  }
  const out: { [N in EthMessageName]?: EthMessages[N][] } = {}
  for (const name of ETH_MESSAGES[version]) (out as Record<string, unknown>)[name] = all[name]
  return out
}

/** A comparable plain form of message data: bytes as hex, headers/blocks/txs by serialization. */
export function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return bytesToHex(x)
  if (typeof x === 'bigint') return `${x}n`
  if (Array.isArray(x)) return x.map(plain)
  if (x !== null && typeof x === 'object') {
    const o = x as { serialize?: () => Uint8Array; raw?: () => unknown }
    if (typeof o.serialize === 'function') return { serialized: bytesToHex(o.serialize()) }
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]))
  }
  return x
}

export type { Block, BlockHeader }
