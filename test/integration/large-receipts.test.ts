/**
 * eth/70's partial receipt lists end to end, on both paths: a block whose
 * receipts carry 6 MiB of logs (built by the test-chain builder, executed by
 * the VM) is served in replies of about `responseSoftLimit` each, the list
 * split between receipts, and the requester's `getReceipts` continues it until
 * it has the whole list, checked against the block's receipts root.
 */
import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { type EthereumClient, Event, type Peer } from '../../src/client'
import { decodeReceipt } from '../../src/client/blockchain/verify'
import { type LargeBlocks, buildLargeBlock } from '../../src/client/testing/largeblock'
import { chainWith, enodeId, nextPeer, startNode } from '../client/helpers/nodes'
import { collect } from '../client/helpers/waits'

const MiB = 1024 * 1024
const LOG_BYTES = 6 * MiB

let large: LargeBlocks
const clients: EthereumClient[] = []
const stops: (() => void)[] = []

beforeAll(async () => {
  large = await buildLargeBlock({ targetBytes: LOG_BYTES, payload: 'logs', seed: 'large-receipts' })
}, 120_000)

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

describe.each([
  ['P2P stack', true],
  ['legacy RLPx path', false],
] as const)('a block with 6 MiB of logs on the %s', (_path, useP2PServer) => {
  it(
    'arrives complete over several eth/70 Receipts replies of about responseSoftLimit each',
    async () => {
      const block = large.blocks[0]!
      const receipts = large.receipts[0]!
      const logBytes = receipts.reduce((n, r) => n + decodeReceipt(r).logs.reduce((m, log) => m + (log[2] as unknown as Uint8Array).length, 0), 0)
      expect(logBytes).toBeGreaterThanOrEqual(LOG_BYTES)

      const common = large.common
      const a = await startNode({ common, useP2PServer, discV4: false, chain: await chainWith(common, large.blocks, large.receipts) })
      clients.push(a.client)
      const requests = collect<[{ name: string; data: unknown }, string, Peer]>(a.client.config.events, Event.PROTOCOL_MESSAGE)
      stops.push(requests.stop)
      // No sync: only the getReceipts below asks A for receipts.
      const b = await startNode({ common, useP2PServer, discV4: false, bootnodes: [a.url], sync: false })
      clients.push(b.client)
      const toA = await nextPeer(b.client, enodeId(a.url))
      expect(toA.eth?.version).toBe(70)

      const got = await toA.eth!.getReceipts({ hashes: [block.hash()], headers: [block.header] })
      expect(got).toHaveLength(1)
      expect(got[0]!.map(bytesToHex)).toEqual(receipts.map(bytesToHex))

      // One GetReceipts per reply: the first from index 0, each follow-up from where the last reply stopped.
      const asked = requests.items.filter(([m]) => m.name === 'GetReceipts').map(([m]) => (m.data as { firstBlockReceiptIndex: bigint }).firstBlockReceiptIndex)
      const softLimit = a.client.config.responseSoftLimit
      expect(asked.length).toBeGreaterThanOrEqual(Math.floor(LOG_BYTES / softLimit))
      expect(asked[0]).toBe(0n)
      for (let i = 1; i < asked.length; i++) expect(asked[i]!).toBeGreaterThan(asked[i - 1]!)
      expect(Number(asked.at(-1)!)).toBeLessThan(receipts.length)
    },
    120_000,
  )
})
