import { bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'

import { RLPX_MULTIPLEXER } from '../../../p2p'
import { P2PPeer } from '../../net/peer/p2ppeer'
import { type EthStatus, hasBlockRange } from '../../net/protocol/ethstatus'
import { Event } from '../../types'
import { describeError } from '../../errors'

import { shortHex } from './format'

import type { Peer } from '../../net/peer/peer'
import type { EventListener, ProtocolMessage } from '../../types'
import type { NetworkLogger } from './logger'
import type { TestNode } from './node'

/** Node ids of the run -> labels, so log lines say "node2" instead of a 128-hex id. */
export class NodeNames {
  private readonly byId = new Map<string, string>()

  add(id: string, label: string): void {
    this.byId.set(id, label)
  }

  name(id: string): string {
    return this.byId.get(id) ?? shortHex(id)
  }

  /** "node2 (3f2a9c01@127.0.0.1:30451)" */
  peer(peer: Peer): string {
    return `${this.name(peer.id)} (${shortHex(peer.id)}@${peer.address})`
  }
}

/** Human-readable request or announcement parameters. */
function describeMessage(msg: ProtocolMessage): string {
  const data = msg.data as Record<string, unknown>
  switch (msg.name) {
    case 'GetBlockHeaders': {
      const block = data.block instanceof Uint8Array ? shortHex(bytesToUnprefixedHex(data.block)) : `#${String(data.block)}`
      return `origin ${block}, max ${String(data.max)}, skip ${String(data.skip)}${data.reverse === true ? ', reverse' : ''}`
    }
    case 'GetBlockBodies':
    case 'GetReceipts':
    case 'GetPooledTransactions':
    case 'NewPooledTransactionHashes':
      return `${(data.hashes as unknown[]).length} hashes`
    case 'Transactions':
      return `${(data.txs as unknown[]).length} transactions`
    case 'BlockRangeUpdate':
      return `blocks ${String(data.earliestBlock)}..${String(data.latestBlock)}`
    default:
      return ''
  }
}

function describeStatus(s: EthStatus): string {
  const head = hasBlockRange(s)
    ? `blocks ${s.earliestBlock}..${s.latestBlock} latest ${shortHex(bytesToHex(s.latestBlockHash))}`
    : `td ${s.td} best ${shortHex(bytesToHex(s.bestHash))}`
  return `eth/${s.version} network ${s.networkId} ${head} genesis ${shortHex(bytesToHex(s.genesisHash))} forkid ${bytesToHex(s.forkId.hash)}/${s.forkId.next}`
}

/**
 * Subscribes log lines for every networking event of `node`: discovery,
 * connections (the P2P stack's upgraded connections), stream negotiation,
 * Status, peers, served requests, errors. Returns the unsubscribe function.
 */
export function logNodeEvents(node: TestNode, log: NetworkLogger, names: NodeNames): () => void {
  const bus = node.config.events
  const offs: (() => void)[] = []
  const on = <E extends Event>(event: E, listener: EventListener<E>): void => {
    bus.on(event, listener)
    offs.push(() => bus.off(event, listener))
  }
  const say = (category: Parameters<NetworkLogger['log']>[1], text: string): void => log.log(node.label, category, text)

  on(Event.SERVER_LISTENING, (d) => say('listen', `${d.transport} server listening: ${d.url}`))
  on(Event.SERVER_ERROR, (err) => say('error', `server error: ${describeError(err)}`))
  on(Event.PEER_DISCOVERED, (p) => say('discover', `found ${names.name(p.id)} (${shortHex(p.id)}) at ${p.address} via discv4`))
  on(Event.CONNECTION_OPENED, (c) =>
    say('upgrade', `${c.direction} connection ${c.id} with ${names.name(c.peerId)} at ${c.address} upgraded (ECIES secure channel + ${c.multiplexer === RLPX_MULTIPLEXER ? 'RLPx Hello' : 'mplex'})`),
  )
  on(Event.CONNECTION_CLOSED, (c, reason) => say('disconnect', `connection ${c.id} with ${names.name(c.peerId)} closed: ${reason}`))
  on(Event.STREAM_OPENED, (s) => say('protocol', `stream ${s.streamId} on ${s.connectionId} negotiated ${s.protocol}`))
  on(Event.STREAM_CLOSED, (s) => say('stream', `stream ${s.streamId} (${s.protocol}) on ${s.connectionId} closed`))
  on(Event.STREAM_ERROR, (err, s) => say('error', `stream ${s.streamId} on ${s.connectionId} failed and was reset: ${describeError(err)}`))
  on(Event.PROTOCOL_STATUS, (s, peer) => say('status', `Status from ${names.name(peer.id)}: ${describeStatus(s)}`))
  on(Event.PEER_CONNECTED, (peer) => {
    const version = peer.eth === undefined ? 'no eth' : `eth/${peer.eth.version}`
    // RlpxServer sessions have no connection events: devp2p did ECIES and Hello before the peer exists.
    const how = peer.transport === 'rlpx' ? 'rlpx (devp2p ECIES + Hello)' : `p2p stream over ${peer instanceof P2PPeer ? peer.connection.multiplexer : 'mplex'}`
    say('connect', `peer ${names.peer(peer)} connected: ${peer.inbound ? 'inbound' : 'outbound'}, ${how}, ${version}`)
  })
  on(Event.PEER_DISCONNECTED, (peer, reason) => say('disconnect', `peer ${names.peer(peer)} disconnected: ${reason}`))
  on(Event.PEER_ERROR, (err, peer) => say('error', `peer ${names.peer(peer)}: ${describeError(err)}`))
  on(Event.PROTOCOL_ERROR, (err, peer) => say('error', `protocol error from ${names.peer(peer)}: ${describeError(err)}`))
  on(Event.POOL_PEER_BANNED, (peer, reason) => say('error', `banned ${names.peer(peer)}: ${reason}`))
  on(Event.SYNC_STARTED, (s) => say('sync', `syncing toward #${s.target} ${shortHex(bytesToUnprefixedHex(s.hash))}, announced by ${names.name(s.peer.id)}`))
  on(Event.SYNC_PROGRESS, (s) => say('sync', `imported up to #${s.height} of #${s.target}`))
  on(Event.SYNC_SYNCHRONIZED, (s) => say('sync', `synchronized at #${s.height} ${shortHex(bytesToUnprefixedHex(s.hash))}`))
  on(Event.CHAIN_UPDATED, (c) => say('chain', `head #${c.height} ${shortHex(bytesToUnprefixedHex(c.hash))}${c.reorged > 0 ? ` (reorg: ${c.reorged} blocks replaced)` : ''}`))
  const onPooled = (tx: { hash(): Uint8Array }, origin?: string): void =>
    say('tx', `transaction ${shortHex(bytesToUnprefixedHex(tx.hash()))} entered the pool${origin === undefined ? '' : ` (from ${names.name(origin)})`}`)
  node.client.service.txPool.on('added', onPooled)
  offs.push(() => node.client.service.txPool.off('added', onPooled))
  on(Event.PROTOCOL_MESSAGE, (msg, protocol, peer) => {
    const detail = describeMessage(msg)
    say('serve', `${protocol} ${msg.name} from ${names.name(peer.id)}${detail === '' ? '' : `: ${detail}`}`)
  })
  return () => {
    for (const off of offs.splice(0)) off()
  }
}
