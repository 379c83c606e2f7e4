/**
 * The JSON-RPC endpoint driven by a real client library (viem) against a
 * running node that serves a VM-built chain, with a second node connected
 * for the admin_* methods.
 */
import { bytesToHex } from '@ethereumjs/util'
import { http, createPublicClient, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { GENESIS_BASE_FEE, LOG_CONTRACT_ADDRESS, TEST_ACCOUNT_BALANCE, testAccounts } from '../../../src/chain-config'
import { Event } from '../../../src/client'
import { gethNodeId } from '../../../src/client/rpc/admin'
import { buildTestChain } from '../../../src/client/testing/testchain'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

import type { EthereumClient } from '../../../src/client'
import type { TestChain } from '../../../src/client/testing/testchain'

const BLOCKS = 3
const TXS_PER_BLOCK = 6
let source: TestChain
let node: EthereumClient
let other: EthereumClient
let viem: PublicClient
const hex = (b: Uint8Array): `0x${string}` => bytesToHex(b) as `0x${string}`

beforeAll(async () => {
  const common = testCommon()
  source = await buildTestChain({ common, blocks: BLOCKS, txsPerBlock: TXS_PER_BLOCK, seed: 'rpc' })
  const started = await startNode({ common, useP2PServer: true, rpcPort: 0, discV4: false, chain: await chainWith(common, source.blocks, source.receipts) })
  node = started.client
  const joined = nextPeer(node)
  other = (await startNode({ common, useP2PServer: true, discV4: false, bootnodes: [started.url] })).client
  await joined
  viem = createPublicClient({ transport: http(node.rpc!.url, { retryCount: 0 }) })
}, 120_000)

afterAll(async () => {
  await other?.stop()
  await node?.stop()
})

describe('JSON-RPC with viem', () => {
  it('answers chain id, block number, syncing and the node identity', async () => {
    expect(await viem.getChainId()).toBe(1234)
    expect(await viem.getBlockNumber()).toBe(BigInt(BLOCKS))
    expect(await viem.request({ method: 'eth_syncing' } as never)).toBe(false)
    expect(await viem.request({ method: 'net_version' } as never)).toBe('1234')
    expect(await viem.request({ method: 'net_listening' } as never)).toBe(true)
    expect(await viem.request({ method: 'net_peerCount' } as never)).toBe('0x1')
    expect(await viem.request({ method: 'web3_clientVersion' })).toMatch(/^ethp2p\/v\d+\.\d+\.\d+\/\w+-\w+\/(node|bun)-v/)
  })

  it('serves blocks by number, tag and hash in geth shape', async () => {
    const want = source.blocks[1]!
    const block = await viem.getBlock({ blockNumber: 2n, includeTransactions: true })
    expect(block.hash).toBe(hex(want.hash()))
    expect(block.stateRoot).toBe(hex(want.header.stateRoot))
    expect(block.baseFeePerGas).toBe(want.header.baseFeePerGas)
    expect(block.transactions.map((t) => t.hash)).toEqual(want.transactions.map((t) => hex(t.hash())))
    expect(block.transactions.map((t) => t.from.toLowerCase())).toEqual(want.transactions.map((t) => t.getSenderAddress().toString()))
    expect(block.size).toBe(BigInt(want.serialize().length))
    const byHash = await viem.getBlock({ blockHash: hex(want.hash()) })
    expect(byHash.number).toBe(2n)
    expect(byHash.transactions).toEqual(block.transactions.map((t) => t.hash))
    expect((await viem.getBlock({ blockTag: 'latest' })).number).toBe(BigInt(BLOCKS))
    expect((await viem.getBlock({ blockTag: 'earliest' })).hash).toBe(hex(node.chain.genesis.hash()))
    expect(await viem.request({ method: 'eth_getBlockByNumber', params: ['0x64', false] })).toBeNull()
  })

  it('reads balances and nonces from the state at a block', async () => {
    const sender = testAccounts[0]!.address.toString() as `0x${string}`
    expect(await viem.getBalance({ address: sender, blockNumber: 0n })).toBe(TEST_ACCOUNT_BALANCE)
    const sent = source.blocks.flatMap((b) => b.transactions).filter((t) => t.getSenderAddress().toString() === sender)
    expect(sent.length).toBeGreaterThan(0)
    expect(await viem.getTransactionCount({ address: sender })).toBe(sent.length)
    expect(await viem.getTransactionCount({ address: sender, blockNumber: 0n })).toBe(0)
    expect(await viem.getBalance({ address: sender })).toBeLessThan(TEST_ACCOUNT_BALANCE)
    expect(await viem.getBalance({ address: '0x00000000000000000000000000000000deadbeef' })).toBe(0n)
  })

  it('finds transactions and their receipts, logs and failures included', async () => {
    const txs = source.blocks.flatMap((b, i) => b.transactions.map((tx, index) => ({ tx, block: BigInt(i + 1), index })))
    for (const { tx, block, index } of txs) {
      const got = await viem.getTransaction({ hash: hex(tx.hash()) })
      expect([got.blockNumber, got.transactionIndex, got.nonce]).toEqual([block, index, Number(tx.nonce)])
      const receipt = await viem.getTransactionReceipt({ hash: hex(tx.hash()) })
      expect(receipt.blockNumber).toBe(block)
      expect(receipt.gasUsed).toBeGreaterThan(20_000n)
      const isLogCall = tx.to?.toString() === LOG_CONTRACT_ADDRESS && tx.value === 0n
      expect(receipt.logs.length).toBe(isLogCall ? 1 : 0)
      expect(receipt.status).toBe(tx.to?.toString() === LOG_CONTRACT_ADDRESS && tx.value > 0n ? 'reverted' : 'success')
    }
    const missing = '0x' + '11'.repeat(32)
    expect(await viem.request({ method: 'eth_getTransactionByHash', params: [missing as `0x${string}`] })).toBeNull()
    expect(await viem.request({ method: 'eth_getTransactionReceipt', params: [missing as `0x${string}`] })).toBeNull()
  })

  it('suggests fees from recent blocks and answers eth_feeHistory', async () => {
    const tip = await viem.estimateMaxPriorityFeePerGas()
    expect(tip).toBeGreaterThan(0n)
    const head = await viem.getBlock()
    expect(await viem.getGasPrice()).toBe(tip + head.baseFeePerGas!)
    const history = await viem.getFeeHistory({ blockCount: 2, rewardPercentiles: [25, 75] })
    expect(history.oldestBlock).toBe(BigInt(BLOCKS - 1))
    expect(history.baseFeePerGas).toHaveLength(3)
    expect(history.gasUsedRatio).toHaveLength(2)
    expect(history.reward).toHaveLength(2)
    expect(history.reward![0]![0]!).toBeLessThanOrEqual(history.reward![0]![1]!)
    expect(history.baseFeePerGas[0]).toBeLessThanOrEqual(GENESIS_BASE_FEE)
  })

  it('takes a signed transaction into the pool with eth_sendRawTransaction', async () => {
    const key = testAccounts[15]!.privateKey
    const account = privateKeyToAccount(hex(key))
    const nonce = await viem.getTransactionCount({ address: account.address })
    const raw = await account.signTransaction({
      chainId: 1234,
      type: 'eip1559',
      nonce,
      to: '0x000000000000000000000000000000000000beef',
      value: 1234n,
      gas: 21_000n,
      maxFeePerGas: 10_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    })
    const hash = await viem.sendRawTransaction({ serializedTransaction: raw })
    expect(node.service.txPool.has(Buffer.from(hash.slice(2), 'hex'))).toBe(true)
    const pending = await viem.getTransaction({ hash })
    expect(pending.blockHash).toBeNull()
    expect(pending.from.toLowerCase()).toBe(account.address.toLowerCase())
    await expect(viem.sendRawTransaction({ serializedTransaction: raw })).rejects.toThrow(/already known/)
    const stale = await account.signTransaction({ chainId: 1234, type: 'eip1559', nonce: 0, to: account.address, value: 0n, gas: 21_000n, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 1n })
    if (nonce > 0) await expect(viem.sendRawTransaction({ serializedTransaction: stale })).rejects.toThrow(/nonce too low/)
    const broke = privateKeyToAccount(hex(new Uint8Array(32).fill(7)))
    const unfunded = await broke.signTransaction({ chainId: 1234, type: 'eip1559', nonce: 0, to: account.address, value: 1n, gas: 21_000n, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 1n })
    await expect(viem.sendRawTransaction({ serializedTransaction: unfunded })).rejects.toThrow(/insufficient funds/)
  })

  it("lists peers in geth's admin_peers shape with their score, and removes and adds peers", async () => {
    const peers = (await viem.request({ method: 'admin_peers' } as never)) as Record<string, any>[]
    expect(peers).toHaveLength(1)
    const p = peers[0]!
    const otherId = Buffer.from(other.config.nodeId).toString('hex')
    expect(p.id).toBe(gethNodeId(otherId))
    expect(p.enode).toMatch(new RegExp(`^enode://${otherId}@127\\.0\\.0\\.1:\\d+$`))
    expect(p.caps).toEqual(['eth/70'])
    expect(p.protocols).toEqual({ eth: { version: 70 } })
    expect(p.network).toMatchObject({ inbound: true, trusted: false, static: false })
    expect(p.network.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(typeof p.name).toBe('string')
    expect(typeof p.score).toBe('number')
    const info = (await viem.request({ method: 'admin_nodeInfo' } as never)) as Record<string, any>
    expect(info.enode).toBe(node.server.url)
    expect(info.id).toBe(gethNodeId(enodeId(node.server.url)))
    expect(info.protocols.eth).toMatchObject({ network: 1234, genesis: hex(node.chain.genesis.hash()) })
    expect(info.ports.listener).toBe(Number(new URL(node.server.url.replace('enode://', 'http://')).port))

    const gone = node.config.events.waitFor(Event.POOL_PEER_REMOVED, { timeoutMs: WAIT_MS })
    expect(await viem.request({ method: 'admin_removePeer', params: [other.server.url] } as never)).toBe(true)
    await gone
    expect(await viem.request({ method: 'net_peerCount' } as never)).toBe('0x0')
    const back = nextPeer(node, otherId)
    expect(await viem.request({ method: 'admin_addPeer', params: [other.server.url] } as never)).toBe(true)
    await back
    expect(await viem.request({ method: 'net_peerCount' } as never)).toBe('0x1')
  })
})
