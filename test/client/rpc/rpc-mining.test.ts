/**
 * A transaction's whole life through the RPC, driven by viem: signed by viem,
 * sent with eth_sendRawTransaction to a node that does not produce blocks,
 * relayed over the network to a node that does (devPeriod), included in a
 * block, the block propagated back, and the receipt read from the first node.
 * On both networking paths. And eth_syncing while a node catches up.
 */
import { once } from 'node:events'

import { bytesToHex } from '@ethereumjs/util'
import { http, createPublicClient, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterEach, describe, expect, it } from 'vitest'

import { testAccounts } from '../../../src/chain-config'
import { Event } from '../../../src/client'
import { buildTestChain } from '../../../src/client/testing/testchain'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

import type { EthereumClient } from '../../../src/client'

const clients: EthereumClient[] = []
const hex = (b: Uint8Array): `0x${string}` => bytesToHex(b) as `0x${string}`
const RECIPIENT = '0x000000000000000000000000000000000000c0de'

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

describe.each([
  ['P2P stack', true],
  ['legacy RLPx path', false],
] as const)('eth_sendRawTransaction on the %s', (_path, useP2PServer) => {
  it('relays the transaction to a producing node, which mines it; the receipt is read back from the node it was sent to', async () => {
    const common = testCommon()
    const producer = await startNode({ common, useP2PServer, discV4: false, devPeriod: 0.2 })
    clients.push(producer.client)
    let joined: Promise<unknown> | undefined
    const rpcNode = await startNode({
      common,
      useP2PServer,
      discV4: false,
      rpcPort: 0,
      bootnodes: [producer.url],
      beforeStart: (c) => void (joined = nextPeer(c, enodeId(producer.url))),
    })
    clients.push(rpcNode.client)
    await joined
    const viem: PublicClient = createPublicClient({ transport: http(rpcNode.client.rpc!.url, { retryCount: 0 }) })

    const account = privateKeyToAccount(hex(testAccounts[3]!.privateKey))
    const before = await viem.getBalance({ address: RECIPIENT })
    const raw = await account.signTransaction({
      chainId: 1234,
      type: 'eip1559',
      nonce: await viem.getTransactionCount({ address: account.address }),
      to: RECIPIENT,
      value: 4321n,
      gas: 21_000n,
      maxFeePerGas: 20_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    })
    // The producer's pool takes it from the network (the RPC node relays it; nobody sends it there directly).
    const relayed = once(producer.client.service.txPool, 'added', { signal: AbortSignal.timeout(WAIT_MS) })
    const hash = await viem.sendRawTransaction({ serializedTransaction: raw })
    const [pooled, origin] = (await relayed) as [{ hash(): Uint8Array }, string | undefined]
    expect(hex(pooled.hash())).toBe(hash)
    expect(origin).toBe(enodeId(rpcNode.url))

    const receipt = await viem.waitForTransactionReceipt({ hash, pollingInterval: 50, timeout: WAIT_MS })
    expect(receipt.status).toBe('success')
    expect(receipt.from.toLowerCase()).toBe(account.address.toLowerCase())
    expect(receipt.to).toBe(RECIPIENT)
    expect(receipt.gasUsed).toBe(21_000n)
    const block = await viem.getBlock({ blockNumber: receipt.blockNumber })
    expect(block.transactions).toContain(hash)
    // The block the producer built is the one the RPC node holds.
    const produced = await producer.client.chain.getHeaders(receipt.blockNumber, 1, 0, false)
    expect(block.hash).toBe(hex(produced[0]!.hash()))
    const tx = await viem.getTransaction({ hash })
    expect(tx.blockHash).toBe(block.hash)
    expect(await viem.getBalance({ address: RECIPIENT })).toBe(before + 4321n)
    // Mined: gone from both pools; the node follows the producer, so it is not syncing.
    expect(rpcNode.client.service.txPool.has(Buffer.from(hash.slice(2), 'hex'))).toBe(false)
    expect(await viem.request({ method: 'eth_syncing' } as never)).toBe(false)
  }, 60_000)
})

describe('eth_syncing', () => {
  it("answers geth's progress object while the node catches up, and false once it is synchronized", async () => {
    const common = testCommon()
    const source = await buildTestChain({ common, blocks: 128, txsPerBlock: 1, seed: 'syncing' })
    const server = await startNode({ common, useP2PServer: true, discV4: false, chain: await chainWith(common, source.blocks, source.receipts) })
    clients.push(server.client)
    let during: { sync: unknown; rpc: Promise<unknown> } | undefined
    let synchronized: Promise<unknown> | undefined
    const node = await startNode({
      common,
      useP2PServer: true,
      discV4: false,
      rpcPort: 0,
      bootnodes: [server.url],
      syncHeaderBatch: 16,
      syncBodyBatch: 16,
      syncReceiptBatch: 16,
      beforeStart: (c) => {
        synchronized = c.config.events.waitFor(Event.SYNC_SYNCHRONIZED, { timeoutMs: WAIT_MS })
        c.config.events.once(Event.SYNC_STARTED, () => {
          during = { sync: c.synchronizer.syncing(), rpc: c.rpc!.answer({ jsonrpc: '2.0', id: 1, method: 'eth_syncing' }) }
        })
      },
    })
    clients.push(node.client)
    await synchronized
    expect(during?.sync).toEqual({ startingBlock: 0n, currentBlock: 0n, highestBlock: 128n })
    expect(await during?.rpc).toEqual({ jsonrpc: '2.0', id: 1, result: { startingBlock: '0x0', currentBlock: '0x0', highestBlock: '0x80' } })
    expect(await node.client.rpc!.answer({ jsonrpc: '2.0', id: 2, method: 'eth_syncing' })).toEqual({ jsonrpc: '2.0', id: 2, result: false })
    expect(node.client.chain.headers.height).toBe(128n)
  }, 120_000)
})
