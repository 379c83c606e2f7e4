/**
 * Whole client nodes for tests: EthereumClients on 127.0.0.1 with ephemeral
 * ports, built as the README's usage builds them.
 */
import { Common } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { Config, type ConfigOptions, EthereumClient, Event } from '../../../src/client'

import { WAIT_MS, waitUntil } from './waits'

import type { Common as EthjsCommon } from '@ethereumjs/common'
import type { Peer, RankPeers } from '../../../src/client'

/** Chain id of the client-level test chain (the client's default chain id). */
export const CHAIN_ID = 1234

/** The test chain's Common; another `gasLimit` gives another genesis under the same network id. */
export function testCommon(chainId = CHAIN_ID, gasLimit?: bigint): EthjsCommon {
  return Common.custom({ chainId, name: 'testnet', gasLimit })
}

/** Hex node id inside an enode URL. */
export function enodeId(url: string): string {
  return url.slice('enode://'.length, url.indexOf('@'))
}

/** TCP port of an enode URL. */
export function enodeTcpPort(url: string): number {
  return Number(new URL(url.replace('enode://', 'http://')).port)
}

export interface NodeOptions extends ConfigOptions {
  /** A chain to serve; default a fresh one at the genesis of `common`. */
  chain?: Chain
  /** Runs before start(): the place to subscribe to events start() already emits (discovery, bootstrap). */
  beforeStart?: (client: EthereumClient) => void
  /** The synchronizer's peer preference. */
  rankPeers?: RankPeers
}

/** A started client on loopback (TCP and UDP on ephemeral ports); resolves once it listens, with its enode URL. */
export async function startNode(opts: NodeOptions = {}): Promise<{ client: EthereumClient; url: string }> {
  const { chain, beforeStart, rankPeers, ...configOpts } = opts
  const config = new Config({ common: testCommon(), port: 0, discPort: 0, bindAddress: '127.0.0.1', ...configOpts })
  const client = await EthereumClient.create({ config, chain, rankPeers })
  // The server announces itself from inside start(): capture it there, no wait needed.
  let url: string | undefined
  const onListening = (d: { url: string }): void => {
    url = d.url
  }
  config.events.on(Event.SERVER_LISTENING, onListening)
  beforeStart?.(client)
  try {
    await client.start()
  } catch (err) {
    await client.stop()
    throw err
  } finally {
    config.events.off(Event.SERVER_LISTENING, onListening)
  }
  if (url === undefined) throw new Error('client started without announcing SERVER_LISTENING')
  return { client, url }
}

/** The next peer `client` reports connected (matching `id` if given). */
export async function nextPeer(client: EthereumClient, id?: string): Promise<Peer> {
  const [peer] = await client.config.events.waitFor(Event.PEER_CONNECTED, {
    timeoutMs: WAIT_MS,
    filter: (p) => id === undefined || p.id === id,
  })
  return peer
}

/** A chain pre-filled with `blocks`, for a node to serve. */
export async function chainWith(common: EthjsCommon, blocks: Parameters<Chain['putBlocks']>[0], receipts?: Parameters<Chain['putBlocks']>[1]): Promise<Chain> {
  const chain = await Chain.create({ common })
  await chain.putBlocks(blocks, receipts)
  return chain
}

/** Resolves once every client's pool holds exactly the other clients, re-checked on pool changes. */
export function meshed(clients: readonly EthereumClient[]): Promise<void> {
  const ids = clients.map((c) => Buffer.from(c.config.nodeId).toString('hex'))
  const others = (i: number): string => ids.filter((_, j) => j !== i).sort().join()
  const ok = (): boolean => clients.every((c, i) => c.service.pool.peers.map((p) => p.id).sort().join() === others(i))
  return waitUntil(
    clients.map((c) => c.config.events),
    [Event.POOL_PEER_ADDED, Event.POOL_PEER_REMOVED],
    ok,
    { describe: () => `pool sizes ${clients.map((c) => c.service.pool.size).join('/')}` },
  )
}

/** Resource kinds (sockets, timers, ...) currently keeping the process alive, counted per kind. */
export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}
