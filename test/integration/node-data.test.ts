/**
 * eth/66's GetNodeData, served for real: the node executed every block it
 * holds (Chain / ChainState), so it answers with the state trie nodes and
 * contract code asked for by hash, on both transports. eth/67 and eth/68
 * dropped the message; the codec tests cover that it is refused there.
 */
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { LOG_CONTRACT_CODE } from '../../src/chain-config'
import { EthCode, type EthMessages, encodeEthPayload } from '../../src/client/net/protocol/ethmessages'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { chainWith, startNode, testCommon } from '../client/helpers/nodes'
import { type RawEthSession, rawRlpxSession, rawStreamSession } from '../client/helpers/raw-peers'

import type { EthereumClient } from '../../src/client'

const VERSION = 66
const REQ_ID = 42n

let source: TestChain
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: 6, txsPerBlock: 3, seed: 'node-data' })
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function servingNode(useP2PServer: boolean): Promise<{ client: EthereumClient; url: string }> {
  const common = testCommon()
  // The chain gets blocks only (no receipts, no state): what it serves, it computed itself.
  const node = await startNode({ common, useP2PServer, discV4: false, chain: await chainWith(common, source.blocks) })
  cleanups.push(() => node.client.stop())
  return node
}

async function askNodeData(client: EthereumClient, session: RawEthSession): Promise<void> {
  cleanups.push(() => session.close())
  const headRoot = source.blocks.at(-1)!.header.stateRoot
  const earlierRoot = source.blocks[0]!.header.stateRoot
  const code = hexToBytes(LOG_CONTRACT_CODE)
  const hashes = [headRoot, new Uint8Array(32).fill(0xee), earlierRoot, keccak_256(code)]
  const request = encodeEthPayload('GetNodeData', { reqId: REQ_ID, hashes }, { version: VERSION, common: testCommon() })
  session.sendAll(client.service.protocols[0]!.createStatus(VERSION), [[EthCode.GetNodeData, request]])
  const reply = (await session.next(EthCode.NodeData)).data as EthMessages['NodeData']
  expect(reply.reqId).toBe(REQ_ID)
  // Each item hashes to what was asked; the unknown hash is left out, the order kept.
  expect(reply.data.map((d) => bytesToHex(keccak_256(d)))).toEqual([headRoot, earlierRoot, keccak_256(code)].map(bytesToHex))
  expect(bytesToHex(reply.data[2]!)).toBe(bytesToHex(code))
}

describe('GetNodeData on an eth/66 session', () => {
  it('is answered with state trie nodes and contract code over an ETH stream', async () => {
    const node = await servingNode(true)
    await askNodeData(node.client, await rawStreamSession(node.url, VERSION, testCommon()))
  })

  it('is answered with state trie nodes and contract code over RLPx', async () => {
    const node = await servingNode(false)
    await askNodeData(node.client, await rawRlpxSession(node.url, VERSION, testCommon()))
  })
})
