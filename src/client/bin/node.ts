/**
 * Runs one client node: `npm start -- [--port N] [--discPort N]
 * [--bootnodes enode://...[,enode://...]] [--maxPeers N] [--extIP IP]
 * [--bindAddress IP] [--key HEX] [--dataDir DIR] [--chainId N] [--p2p] [--eth V,V...]
 * [--metrics-port N] [--metrics-address IP] [--rpc-port N] [--rpc-address IP]
 * [--dev-period S] [--no-sync]`.
 * Prints the node's enode URL and head, logs peers joining and leaving, sync
 * progress and every head move, and shuts down cleanly on SIGINT/SIGTERM (a
 * second signal exits at once). A failed write to the dataDir stops the node
 * with exit code 1.
 */
import { parseArgs } from 'node:util'

import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import { Common } from '../../chain-config'
import { Config, DEFAULT_CHAIN_ID, DEFAULT_CHAIN_NAME, EthereumClient, Event } from '../index'
import { ClientError } from '../errors'

import type { ConfigOptions } from '../config'

const USAGE = `usage: npm start -- [options]
  --port N            TCP port (default 30303; 0 = any free port)
  --discPort N        UDP discovery port (default: same as --port)
  --bootnodes URLS    enode URLs to bootstrap from, comma-separated (repeatable)
  --maxPeers N        maximum peers (default 25)
  --extIP IP          IPv4 address announced to other nodes (default 127.0.0.1)
  --bindAddress IP    local address to listen on (default 0.0.0.0)
  --key HEX           32-byte node private key as hex (default: <dataDir>/nodekey, else random)
  --dataDir DIR       keep the node's key, chain and known nodes in DIR (default: all in memory)
  --chainId N         chain id of the custom chain (default ${DEFAULT_CHAIN_ID}); nodes must agree
  --p2p               use the modular P2P stack instead of RLPx
  --eth V,V...        eth versions to offer (default 70,69,68,67,66)
  --metrics-port N    serve Prometheus metrics at http://<metrics-address>:N/metrics (default: off)
  --metrics-address IP  address of the metrics listener (default 127.0.0.1)
  --rpc-port N        serve JSON-RPC 2.0 over HTTP on port N (default: off)
  --rpc-address IP    address of the JSON-RPC listener (default 127.0.0.1)
  --dev-period S      produce a block every S seconds from the pool (test networks only; default 0 = never)
  --no-sync           do not sync from peers or follow their heads (default: sync)
  --help              this text`

function parse(): ConfigOptions {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      discPort: { type: 'string' },
      bootnodes: { type: 'string', multiple: true },
      maxPeers: { type: 'string' },
      extIP: { type: 'string' },
      bindAddress: { type: 'string' },
      key: { type: 'string' },
      dataDir: { type: 'string' },
      chainId: { type: 'string' },
      p2p: { type: 'boolean', default: false },
      eth: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-address': { type: 'string' },
      'rpc-port': { type: 'string' },
      'rpc-address': { type: 'string' },
      'dev-period': { type: 'string' },
      'no-sync': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const chainId = values.chainId === undefined ? DEFAULT_CHAIN_ID : integer('chainId', values.chainId)
  return {
    common: Common.custom({ chainId, name: DEFAULT_CHAIN_NAME }),
    useP2PServer: values.p2p,
    port: values.port === undefined ? undefined : integer('port', values.port),
    discPort: values.discPort === undefined ? undefined : integer('discPort', values.discPort),
    bootnodes: values.bootnodes?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== ''),
    maxPeers: values.maxPeers === undefined ? undefined : integer('maxPeers', values.maxPeers),
    extIP: values.extIP,
    bindAddress: values.bindAddress,
    key: values.key === undefined ? undefined : keyBytes(values.key),
    // Config checks each version (and names the option when one is not supported).
    ethVersions: values.eth?.split(',').map((v) => integer('eth', v.trim())),
    dataDir: values.dataDir,
    metricsPort: values['metrics-port'] === undefined ? undefined : integer('metrics-port', values['metrics-port']),
    metricsAddress: values['metrics-address'],
    rpcPort: values['rpc-port'] === undefined ? undefined : integer('rpc-port', values['rpc-port']),
    rpcAddress: values['rpc-address'],
    devPeriod: values['dev-period'] === undefined ? undefined : seconds('dev-period', values['dev-period']),
    sync: !values['no-sync'],
  }
}

function seconds(name: string, text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new ClientError('ERR_CLI_ARGUMENT', `--${name} expects a number of seconds, got "${text}"`)
  return Number(text)
}

function keyBytes(text: string): Uint8Array {
  const hex = text.startsWith('0x') ? text.slice(2) : text
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ClientError('ERR_CLI_ARGUMENT', '--key expects 32 bytes as 64 hex characters')
  return hexToBytes(`0x${hex}`)
}

function integer(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new ClientError('ERR_CLI_ARGUMENT', `--${name} expects a non-negative integer, got "${text}"`)
  return Number(text)
}

function time(): string {
  return new Date().toISOString().slice(11, 23)
}

async function main(): Promise<void> {
  const config = new Config(parse())
  // Fails here, before anything is opened, if the selected server does not exist yet.
  const server = config.server
  const client = await EthereumClient.create({ config })
  const events = config.events
  const peers = (): number => client.service.pool.size

  events.on(Event.SERVER_LISTENING, ({ transport, url }) => {
    console.log(`${time()} listening (${transport})`)
    console.log(`enode: ${url}`)
  })
  // Pool events fire after the pool changed, so the count printed is current.
  events.on(Event.POOL_PEER_ADDED, (peer) => {
    const dir = peer.inbound ? 'inbound' : 'outbound'
    console.log(`${time()} peer joined: ${peer.id.slice(0, 16)}… ${peer.address} (${dir}, eth/${peer.eth?.version}) — peers: ${peers()}`)
  })
  events.on(Event.PEER_DISCONNECTED, (peer, reason) => {
    // The pool drops the peer right after this event; count it out already.
    const left = client.service.pool.peers.filter((p) => p !== peer).length
    console.log(`${time()} peer left: ${peer.id.slice(0, 16)}… ${peer.address} (${reason}) — peers: ${left}`)
  })
  events.on(Event.PEER_ERROR, (err, peer) => console.log(`${time()} peer error: ${peer.id.slice(0, 16)}… ${err.message}`))
  events.on(Event.POOL_PEER_BANNED, (peer, reason) => console.log(`${time()} banned ${peer.id.slice(0, 16)}…: ${reason}`))
  events.on(Event.SERVER_ERROR, (err) => console.log(`${time()} server error: ${err.message}`))
  const short = (hash: Uint8Array): string => `${bytesToHex(hash).slice(0, 10)}…`
  events.on(Event.SYNC_STARTED, (s) => console.log(`${time()} syncing toward #${s.target} ${short(s.hash)} from ${s.peer.id.slice(0, 16)}…`))
  events.on(Event.SYNC_SYNCHRONIZED, (s) => console.log(`${time()} synchronized at #${s.height} ${short(s.hash)}`))
  events.on(Event.CHAIN_FAILED, (err) => {
    console.error(`error: ${err.message}; stopping (the dataDir keeps the head written last)`)
    events.once(Event.CLIENT_SHUTDOWN, () => process.exit(1))
  })
  events.on(Event.CHAIN_UPDATED, (c) => console.log(`${time()} head #${c.height} ${short(c.hash)}${c.reorged > 0 ? ` (reorg: ${c.reorged} blocks replaced)` : ''} — pool: ${client.service.txPool.size}`))

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      console.log(`${time()} ${signal} again: exiting without cleanup`)
      process.exit(1)
    }
    stopping = true
    console.log(`${time()} ${signal}: shutting down`)
    client.stop().then(
      () => {
        console.log(`${time()} stopped`)
        process.off('SIGINT', onSigint)
        process.off('SIGTERM', onSigterm)
      },
      (err: unknown) => {
        console.error(`${time()} shutdown failed: ${(err as Error).message}`)
        process.exit(1)
      },
    )
  }
  const onSigint = (): void => shutdown('SIGINT')
  const onSigterm = (): void => shutdown('SIGTERM')
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)

  const producing = config.devPeriod > 0 ? `, producing a block every ${config.devPeriod} s` : ''
  console.log(`${time()} starting node ${server.name} (chain id ${config.common.chainId()}, max peers ${config.maxPeers}${config.sync ? ', syncing' : ''}${producing})`)
  const head = client.chain.headers.latest
  console.log(`${time()} chain at #${head.number} ${short(head.hash())}${config.dataDir === undefined ? ' (in memory)' : ` (dataDir ${config.dataDir})`}`)
  await client.start()
  if (client.metrics !== undefined) console.log(`${time()} metrics: ${client.metrics.server.url}`)
  if (client.rpc !== undefined) console.log(`${time()} JSON-RPC: ${client.rpc.url}`)
}

main().catch((err: unknown) => {
  const e = err as Error
  console.error(e instanceof ClientError ? `error: ${e.message}` : e)
  process.exit(1)
})
