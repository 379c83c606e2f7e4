import { Common } from '../../src/chain-config'
import { Chain } from '../../src/client/blockchain/chain'
import { Config, type ConfigOptions } from '../../src/client/config'
import type { Peer } from '../../src/client/net/peer/peer'
import type { EthMessage } from '../../src/client/net/protocol/ethmessages'
import { StreamEthProtocol } from '../../src/client/net/protocol/streamethprotocol'
import { P2PServer } from '../../src/client/net/server/p2pserver'
import { FullEthereumService } from '../../src/client/service/fullethereumservice'
import { buildTestChain, type TestChain } from '../../src/client/testing/testchain'
import { Event, type EventParams, type ProtocolMessage } from '../../src/client/types'
import { WAIT_TIMEOUT_MS } from '../utils/sockets'

/**
 * Client nodes for the node-level fault tests: a P2PServer with the stream
 * ETH protocol and a FullEthereumService answering requests from its chain,
 * on 127.0.0.1 with ephemeral TCP and UDP ports.
 */

export const CLIENT_CHAIN_ID = 61_011
const common = (): ReturnType<typeof Common.custom> => Common.custom({ chainId: CLIENT_CHAIN_ID, name: 'h11-reliability' })

let source: Promise<TestChain> | undefined

/** The shared source chain (built once per test file). */
export function sourceChain(): Promise<TestChain> {
  source ??= buildTestChain({ common: common(), blocks: 8, txsPerBlock: 2, seed: 'h11-reliability' })
  return source
}

export interface ClientNode {
  config: Config
  chain: Chain
  server: P2PServer
  url: string
  /** The node's id as peers see it (128 hex chars). */
  id: string
  udpPort: number
  tcpPort: number
  stop(): Promise<void>
}

export async function startClientNode(opts: ConfigOptions & { blocks?: number } = {}): Promise<ClientNode> {
  const { blocks = 0, ...configOpts } = opts
  const chain = await Chain.create({ common: common() })
  if (blocks > 0) {
    const src = await sourceChain()
    await chain.putBlocks(src.blocks.slice(0, blocks), src.receipts.slice(0, blocks))
  }
  const config = new Config({
    common: chain.common,
    port: 0,
    discPort: 0,
    bindAddress: '127.0.0.1',
    extIP: '127.0.0.1',
    ...configOpts,
  })
  const server = new P2PServer({ config })
  const protocol = new StreamEthProtocol({ config, chain })
  await protocol.open()
  server.addProtocols([protocol])
  const service = new FullEthereumService({ config, chain })
  const serve = (msg: ProtocolMessage, name: string, peer: Peer): void => {
    if (name === 'eth') service.handle(msg as EthMessage, peer).catch(() => undefined)
  }
  config.events.on(Event.PROTOCOL_MESSAGE, serve)
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_TIMEOUT_MS })
  await server.start()
  const [{ url }] = await listening
  const [, hostPort, query] = /^enode:\/\/[0-9a-f]+@([^?]+)\?discport=(\d+)$/.exec(url) ?? []
  return {
    config,
    chain,
    server,
    url,
    id: url.slice('enode://'.length, url.indexOf('@')),
    tcpPort: Number(hostPort?.split(':')[1]),
    udpPort: Number(query),
    async stop() {
      await server.stop()
      config.events.off(Event.PROTOCOL_MESSAGE, serve)
    },
  }
}

/** An enode URL for `node` whose TCP port is `tcpPort` (e.g. a fault proxy in front of it). */
export function enodeVia(node: ClientNode, tcpPort: number): string {
  return `enode://${node.id}@127.0.0.1:${tcpPort}?discport=${node.udpPort}`
}

/** The next `event` on the node's bus matching `filter`. */
export function nextEvent<E extends Event>(node: ClientNode, event: E, filter?: (...args: EventParams[E]) => boolean): Promise<EventParams[E]> {
  return node.config.events.waitFor(event, { timeoutMs: WAIT_TIMEOUT_MS, filter })
}

/** The connected peer of `node` whose id is `id`, waiting for it if needed. */
export async function connectedPeer(node: ClientNode, id: string): Promise<Peer> {
  const now = node.server.peers.find((p) => p.id === id)
  if (now !== undefined) return now
  const [peer] = await nextEvent(node, Event.PEER_CONNECTED, (p) => p.id === id)
  return peer
}
