import { type ConfigOptions } from '../../../../src/client/config'
import { StreamEthProtocol } from '../../../../src/client/net/protocol/streamethprotocol'
import { P2PServer } from '../../../../src/client/net/server/p2pserver'
import { FullEthereumService } from '../../../../src/client/service/fullethereumservice'
import { Event, type EventParams, type ProtocolMessage } from '../../../../src/client/types'
import { WAIT_MS, waitUntil } from '../../helpers/waits'
import { makeChain, makeConfig } from './helpers'

import type { Chain } from '../../../../src/client/blockchain/chain'
import type { Config } from '../../../../src/client/config'
import type { EthMessage } from '../../../../src/client/net/protocol/ethmessages'
import type { Peer } from '../../../../src/client/net/peer/peer'

/**
 * A P2PServer with its protocol and a request server, without the client
 * around it: the FullEthereumService's own handlers answer every request
 * (its pool and bans stay out of the way, so these tests see the server's
 * behaviour alone).
 */
/** Re-exported: suites outside test/client (test/reliability) import it from here. */
export { enodeId } from '../../helpers/nodes'

export interface P2PNode {
  config: Config
  chain: Chain
  server: P2PServer
  protocol: StreamEthProtocol
  url: string
  /** Every event of interest, in order, for assertions on counts. */
  events: Array<{ event: Event; args: unknown[] }>
  /** Requests the service failed to serve (a test that expects answers checks this is empty). */
  serveErrors: Error[]
  stop(): Promise<void>
}

export interface P2PNodeOptions extends ConfigOptions {
  chain?: Chain
  blocks?: number
}

const RECORDED = [
  Event.PEER_CONNECTED,
  Event.PEER_DISCONNECTED,
  Event.PEER_ERROR,
  Event.PEER_DISCOVERED,
  Event.CONNECTION_OPENED,
  Event.CONNECTION_CLOSED,
  Event.STREAM_OPENED,
  Event.STREAM_CLOSED,
  Event.STREAM_ERROR,
] as const

export async function startP2PNode(opts: P2PNodeOptions = {}): Promise<P2PNode> {
  const { chain: given, blocks, ...configOpts } = opts
  const chain = given ?? (await makeChain(blocks ?? 0))
  const config = makeConfig({ common: chain.common, ...configOpts })
  const server = new P2PServer({ config })
  const protocol = new StreamEthProtocol({ config, chain })
  await protocol.open()
  server.addProtocols([protocol])
  const service = new FullEthereumService({ config, chain })
  const serveErrors: Error[] = []
  // The service's own bus wiring would also ban and pool peers; these tests want the server alone.
  const serve = (msg: ProtocolMessage, name: string, peer: Peer): void => {
    if (name !== 'eth') return
    service.handle(msg as EthMessage, peer).catch((err: unknown) => void serveErrors.push(err as Error))
  }
  config.events.on(Event.PROTOCOL_MESSAGE, serve)
  const events: P2PNode['events'] = []
  const recorders = RECORDED.map((event) => {
    const fn = (...args: unknown[]): void => void events.push({ event, args })
    config.events.on(event, fn as never)
    return { event, fn }
  })
  const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
  await server.start()
  const [{ url }] = await listening
  return {
    config,
    chain,
    server,
    protocol,
    url,
    events,
    serveErrors,
    async stop() {
      await server.stop()
      config.events.off(Event.PROTOCOL_MESSAGE, serve)
      for (const r of recorders) config.events.off(r.event, r.fn as never)
    },
  }
}

/** The next `event` on the node's bus matching `filter`. */
export function waitEvent<E extends Event>(node: { config: Config }, event: E, filter?: (...args: EventParams[E]) => boolean): Promise<EventParams[E]> {
  return node.config.events.waitFor(event, { timeoutMs: WAIT_MS, filter })
}

/** Resolves once `predicate` holds, re-checked on every recorded event of the node. */
export function settled(node: { config: Config }, predicate: () => boolean, describe?: () => string): Promise<void> {
  return settledAll([node], predicate, describe)
}

/** Resolves once `predicate` holds, re-checked on every recorded event of any of the nodes. */
export function settledAll(nodes: Array<{ config: Config }>, predicate: () => boolean, describe?: () => string): Promise<void> {
  return waitUntil(nodes.map((n) => n.config.events), RECORDED, predicate, { describe })
}

export function count(node: P2PNode, event: Event, filter: (args: unknown[]) => boolean = () => true): number {
  return node.events.filter((e) => e.event === event && filter(e.args)).length
}
