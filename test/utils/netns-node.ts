/**
 * One node of the multi-host test (test/reliability/netns.test.ts), run as its
 * own process inside a network namespace:
 *
 *   ip netns exec NS node --import tsx test/utils/netns-node.ts --label node2 --ip 10.213.7.2 \
 *     --port 30303 [--blocks 64 --txs 4] [--bootnode enode://...] [--batch 16] [--timeout-ms 40000]
 *
 * A client as the README's usage builds it (Config with useP2PServer, then
 * EthereumClient), bound to and advertising its namespace address, with
 * discovery on. With --blocks it is the bootnode and serves a test chain;
 * otherwise it syncs from its peers with the network script's own PeerSync
 * (src/client/bin/network/sync.ts: headers, bodies and receipts fetched,
 * verified and imported). Reports JSON lines on stdout:
 *   {"type":"listening","url","head"} {"type":"peers","ids":[...]} {"type":"synced","head","headers","bodies","receipts"}
 *   {"type":"error","message"} {"type":"stopped","leftoverListeners"}
 * and stops cleanly when stdin says "stop" or closes (or on SIGTERM).
 */
import { parseArgs } from 'node:util'
import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { Common } from '../../src/chain-config'
import { Config, DEFAULT_CHAIN_ID, DEFAULT_CHAIN_NAME } from '../../src/client/config'
import { EthereumClient } from '../../src/client/client'
import { NodeNames } from '../../src/client/bin/network/eventlog'
import { NetworkLogger } from '../../src/client/bin/network/logger'
import { PeerSync } from '../../src/client/bin/network/sync'
import type { TestNode } from '../../src/client/bin/network/node'
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
  const label = values.label ?? 'node'
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
    // The network script's sync, given this process's node as the TestNode shape it reads.
    const node = {
      label,
      config,
      client,
      get peers() {
        return client.service.pool.peers
      },
      get head() {
        const h = head()
        return { height: BigInt(h.height), hash: h.hash }
      },
    } as unknown as TestNode
    const log = new NetworkLogger((line) => process.stderr.write(`${line}\n`))
    const sync = new PeerSync(node, { batch: Number(values.batch), timeoutMs: Number(values['timeout-ms']), log, names: new NodeNames() })
    const result = await sync.run()
    report({ type: 'synced', head: head(), headers: result.headers, bodies: result.bodies, receipts: result.receipts, servedBy: result.servedBy })
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
