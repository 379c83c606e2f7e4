/**
 * One node of the multi-host test (test/reliability/netns.test.ts), run as its
 * own process inside a network namespace:
 *
 *   ip netns exec NS node --import tsx test/utils/netns-node.ts --label node2 --ip 10.213.7.2 \
 *     --port 30303 [--blocks 64 --txs 4] [--bootnode enode://... --height 64] [--batch 16] [--timeout-ms 40000]
 *
 * A client as the README's usage builds it (Config with useP2PServer, then
 * EthereumClient), bound to and advertising its namespace address, with
 * discovery on. With --blocks it is the bootnode and serves a test chain;
 * otherwise its synchronizer syncs from its peers (headers, bodies and
 * receipts fetched, verified and executed) until its head is at --height.
 * Reports JSON lines on stdout:
 *   {"type":"listening","url","head"} {"type":"peers","ids":[...]} {"type":"synced","head","headers","bodies","receipts"}
 *   {"type":"error","message"} {"type":"stopped","leftoverListeners"}
 * and stops cleanly when stdin says "stop" or closes (or on SIGTERM).
 */
import { parseArgs } from 'node:util'
import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { Common } from '../../src/chain-config'
import { Config, DEFAULT_CHAIN_ID, DEFAULT_CHAIN_NAME } from '../../src/client/config'
import { EthereumClient } from '../../src/client/client'
import { buildTestChain } from '../../src/client/testing/testchain'
import { Event } from '../../src/client/types'

const { values } = parseArgs({
  options: {
    label: { type: 'string' },
    ip: { type: 'string' },
    port: { type: 'string', default: '30303' },
    blocks: { type: 'string' },
    txs: { type: 'string', default: '4' },
    bootnode: { type: 'string' },
    height: { type: 'string', default: '0' },
    batch: { type: 'string', default: '16' },
    'timeout-ms': { type: 'string', default: '40000' },
    'refresh-ms': { type: 'string', default: '2000' },
  },
  strict: true,
})

function report(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`)
}

async function main(): Promise<void> {
  const ip = values.ip
  if (ip === undefined) throw new Error('--ip is required')
  const port = Number(values.port)
  const config = new Config({
    common: Common.custom({ chainId: DEFAULT_CHAIN_ID, name: DEFAULT_CHAIN_NAME }),
    useP2PServer: true,
    port,
    discPort: port,
    bindAddress: ip,
    extIP: ip,
    bootnodes: values.bootnode === undefined ? [] : [values.bootnode],
    discoveryRefreshMs: Number(values['refresh-ms']),
    syncHeaderBatch: Number(values.batch),
    syncBodyBatch: Number(values.batch),
    syncReceiptBatch: Number(values.batch),
  })
  const client = await EthereumClient.create({ config })
  const head = (): { height: string; hash: string } => {
    const latest = client.chain.headers.latest
    return { height: latest.number.toString(), hash: bytesToUnprefixedHex(latest.hash()) }
  }
  if (values.blocks !== undefined) {
    const chain = await buildTestChain({ common: config.common, blocks: Number(values.blocks), txsPerBlock: Number(values.txs) })
    await client.chain.putBlocks(chain.blocks, chain.receipts)
  }
  const reportPeers = (): void => report({ type: 'peers', ids: client.service.pool.peers.map((p) => p.id) })
  config.events.on(Event.POOL_PEER_ADDED, reportPeers)
  config.events.on(Event.POOL_PEER_REMOVED, reportPeers)
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: 30_000 })
  await client.open()
  await client.start()
  const [{ url }] = await listening
  report({ type: 'listening', url, head: head() })

  const stopped = new Promise<void>((resolve) => {
    process.stdin.on('data', (d: Buffer) => d.toString().includes('stop') && resolve())
    process.stdin.on('end', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  if (values.blocks === undefined) {
    const height = BigInt(values.height)
    if (client.chain.headers.height < height) await config.events.waitFor(Event.CHAIN_UPDATED, { timeoutMs: Number(values['timeout-ms']), filter: (u) => u.height >= height })
    const served = [...client.synchronizer.stats.values()]
    const sum = (k: 'headers' | 'bodies' | 'receipts'): number => served.reduce((n, s) => n + s[k], 0)
    report({ type: 'synced', head: head(), headers: sum('headers'), bodies: sum('bodies'), receipts: sum('receipts'), servedBy: [...client.synchronizer.stats.keys()] })
  }
  await stopped
  config.events.off(Event.POOL_PEER_ADDED, reportPeers)
  config.events.off(Event.POOL_PEER_REMOVED, reportPeers)
  await client.stop()
  report({ type: 'stopped', leftoverListeners: config.events.totalListenerCount() })
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    report({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
    process.exit(1)
  },
)
