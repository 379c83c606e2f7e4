import { Common } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { Config, type ConfigOptions, EthereumClient, Event } from '../../../src/client'

import type { Common as EthjsCommon } from '@ethereumjs/common'
import type { Peer } from '../../../src/client'

/** Generous bound for a wait on loopback; a test fails with a clear error instead of hanging. */
export const WAIT_MS = 20_000

export const CHAIN_ID = 1234

export function testCommon(chainId = CHAIN_ID, gasLimit?: bigint): EthjsCommon {
  return Common.custom({ chainId, name: 'testnet', gasLimit })
}

export interface NodeOptions extends ConfigOptions {
  chain?: Chain
}

/** A client on 127.0.0.1 with ephemeral ports; resolves once it listens, with its enode URL. */
export async function startNode(opts: NodeOptions = {}): Promise<{ client: EthereumClient; url: string }> {
  const { chain, ...configOpts } = opts
  const config = new Config({ common: testCommon(), port: 0, bindAddress: '127.0.0.1', ...configOpts })
  const client = await EthereumClient.create({ config, chain })
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
  await client.start()
  const [{ url }] = await listening
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

/** Hex node id inside an enode URL. */
export function enodeId(url: string): string {
  return url.slice('enode://'.length, url.indexOf('@'))
}

/** A chain pre-filled with `blocks`, for a node to serve. */
export async function chainWith(common: EthjsCommon, blocks: Parameters<Chain['putBlocks']>[0], receipts?: Parameters<Chain['putBlocks']>[1]): Promise<Chain> {
  const chain = await Chain.create({ common })
  await chain.open()
  await chain.putBlocks(blocks, receipts)
  return chain
}

/** Resource kinds (sockets, timers, ...) currently keeping the process alive, counted per kind. */
export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}
