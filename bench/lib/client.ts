/**
 * Whole clients (Config + EthereumClient: server, peer pool, service, chain)
 * on loopback, for the benches that compare the two networking paths as the
 * client runs them: `useP2PServer` true (P2PServer, StreamEthProtocol) or
 * false (RlpxServer, devp2p).
 */
import { hexToBytes } from '@ethereumjs/util'

import type { Chain } from '../../src/client/blockchain/chain'
import { EthereumClient } from '../../src/client/client'
import type { ConfigOptions } from '../../src/client/config'
import type { Peer } from '../../src/client/net/peer/peer'
import { P2PServer } from '../../src/client/net/server/p2pserver'
import { Event } from '../../src/client/types'
import { benchConfig } from './chain'

export type Path = 'p2p' | 'rlpx'

/** Bound on a node start or a single connection; only reached when something is broken. */
export const CLIENT_WAIT_MS = 30_000

export interface BenchClient {
  client: EthereumClient
  url: string
  stop(): Promise<void>
}

export async function startClient(path: Path, opts: ConfigOptions & { chain?: Chain } = {}): Promise<BenchClient> {
  const { chain, ...configOpts } = opts
  const config = benchConfig({ useP2PServer: path === 'p2p', ...configOpts })
  const client = await EthereumClient.create({ config, chain })
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: CLIENT_WAIT_MS })
  try {
    await client.start()
  } catch (err) {
    await client.stop()
    throw err
  }
  const [{ url }] = await listening
  return { client, url, stop: () => client.stop() }
}

/**
 * A connected pair: `dialer` bootstraps from `server`; resolves with the
 * dialer's view of the server. `carrier: 'rlpx'` (P2P path): the dialer
 * knows the server as an RLPx node, so two P2PServers talk RLPx.
 */
export async function connectClients(
  path: Path,
  server: BenchClient,
  dialerOpts: ConfigOptions = {},
  carrier: 'mplex' | 'rlpx' = 'mplex',
): Promise<{ dialer: BenchClient; peer: Peer }> {
  const serverId = server.url.slice('enode://'.length, server.url.indexOf('@'))
  const config = benchConfig({ useP2PServer: path === 'p2p', bootnodes: [server.url], ...dialerOpts })
  const client = await EthereumClient.create({ config })
  if (carrier === 'rlpx' && config.server instanceof P2PServer) config.server.upgrader.rememberRlpx(hexToBytes(`0x${serverId}`))
  const connected = config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: CLIENT_WAIT_MS, filter: (p) => p.id === serverId })
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: CLIENT_WAIT_MS })
  try {
    await client.start()
    const [[{ url }], [peer]] = await Promise.all([listening, connected])
    return { dialer: { client, url, stop: () => client.stop() }, peer }
  } catch (err) {
    await client.stop()
    throw err
  }
}
