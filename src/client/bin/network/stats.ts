import { P2PPeer } from '../../net/peer/p2ppeer'
import { isResponse, messageName } from '../../net/protocol/ethmessages'
import { P2PServer } from '../../net/server/p2pserver'
import { RlpxServer } from '../../net/server/rlpxserver'
import { Event } from '../../types'


import type { Peer } from '../../net/peer/peer'
import type { SenderMessage } from '../../net/protocol/sender'
import type { EventListener } from '../../types'
import type { TestNode } from './node'

/** Message counts by eth message name. */
export type MessageCounts = Map<string, number>

/** What one node's statistics row shows; computed by `snapshotAll`. */
export interface NodeSnapshot {
  label: string
  transport: 'rlpx' | 'p2p'
  peers: number
  /** Live connections; for RLPx (no connection events) the live sessions. */
  connections: number
  /** Open streams; undefined on RLPx, which has none. */
  streams: number | undefined
  discovered: number
  bytesIn: number
  bytesOut: number
  messagesIn: MessageCounts
  messagesOut: MessageCounts
  errors: number
  height: bigint
  headHash: string
  /** Each pooled peer's reputation score, by the peer's node label. */
  peerScores: { peer: string; score: number }[]
  /** Transactions in the node's pool. */
  pool: number
}

/**
 * Event-driven counters of one node. Counts what the public API shows:
 * bus events (discovery, connections, streams, peers, errors), inbound eth
 * messages per peer, and each peer's transport byte counters. Inbound
 * messages come from PROTOCOL_STATUS (Status), PROTOCOL_MESSAGE (requests
 * and announcements, emitted from the moment the session is ready) and the
 * bound protocol's Sender 'message' events for responses only: those answer
 * our own requests, which start after PEER_CONNECTED, when we subscribe. Outbound message counts are not observable locally on every
 * transport, so `snapshotAll` derives them from the other nodes' inbound
 * counts (every peer of this network is one of our nodes).
 */
export class NodeStats {
  readonly node: TestNode
  readonly discovered = new Set<string>()
  connectionsOpened = 0
  connectionsClosed = 0
  streamsOpened = 0
  streamsClosed = 0
  errors = 0
  /** Inbound messages by the sending peer's id. */
  readonly inbound = new Map<string, MessageCounts>()
  /** Every peer that completed Status, so bytes of peers gone stay counted. */
  private readonly peersSeen = new Set<Peer>()
  private readonly detachers: (() => void)[] = []

  constructor(node: TestNode) {
    this.node = node
  }

  attach(): void {
    const bus = this.node.config.events
    const on = <E extends Event>(event: E, listener: EventListener<E>): void => {
      bus.on(event, listener)
      this.detachers.push(() => bus.off(event, listener))
    }
    on(Event.PEER_DISCOVERED, (p) => this.discovered.add(p.id))
    on(Event.CONNECTION_OPENED, () => this.connectionsOpened++)
    on(Event.CONNECTION_CLOSED, () => this.connectionsClosed++)
    on(Event.STREAM_OPENED, () => this.streamsOpened++)
    on(Event.STREAM_CLOSED, () => this.streamsClosed++)
    on(Event.PEER_ERROR, () => this.errors++)
    on(Event.PROTOCOL_ERROR, () => this.errors++)
    on(Event.PROTOCOL_STATUS, (_status, peer) => this.count(peer.id, 'Status'))
    on(Event.PROTOCOL_MESSAGE, (msg, _protocol, peer) => this.count(peer.id, msg.name))
    on(Event.PEER_CONNECTED, (peer) => this.onPeer(peer))
  }

  /** Removes every listener attach() added (bus and senders). */
  detach(): void {
    for (const d of this.detachers.splice(0)) d()
  }

  private onPeer(peer: Peer): void {
    this.peersSeen.add(peer)
    const eth = peer.eth
    if (eth === undefined) return
    const listener = (m: SenderMessage): void => {
      const name = messageName(m.code, eth.version)
      if (name !== undefined && isResponse(name)) this.count(peer.id, name)
    }
    eth.sender.on('message', listener)
    this.detachers.push(() => eth.sender.off('message', listener))
  }

  private count(peerId: string, name: string): void {
    let counts = this.inbound.get(peerId)
    if (counts === undefined) this.inbound.set(peerId, (counts = new Map()))
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }

  /** Bytes with every peer seen so far (closed sessions keep their final counts). */
  bytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const peer of this.peersSeen) {
      const b = peer.bytes
      if (b === undefined) continue
      bytesIn += b.bytesIn
      bytesOut += b.bytesOut
    }
    return { bytesIn, bytesOut }
  }

  /**
   * Live connections as the server lists them: every upgraded connection
   * (P2P, handshaking ones included), or the RLPx sessions past Status.
   * Anything else: counted from the connection events.
   */
  liveConnections(): number {
    const server = this.node.server
    if (server instanceof P2PServer) return server.connections.length
    if (server instanceof RlpxServer) return server.peers.length
    return this.connectionsOpened - this.connectionsClosed
  }

  /** Open streams over all live peers; undefined when the transport has none (RLPx). */
  openStreams(): number | undefined {
    if (this.node.config.useP2PServer === false) return undefined
    let total = 0
    for (const peer of this.node.peers) if (peer instanceof P2PPeer) total += peer.getStreams().length
    return total
  }
}

function addInto(target: MessageCounts, source: MessageCounts | undefined): void {
  if (source === undefined) return
  for (const [name, n] of source) target.set(name, (target.get(name) ?? 0) + n)
}

/** Snapshots of every node; outbound counts of node A are what the others received from A. */
export function snapshotAll(all: readonly NodeStats[]): NodeSnapshot[] {
  return all.map((s) => {
    const messagesIn: MessageCounts = new Map()
    for (const counts of s.inbound.values()) addInto(messagesIn, counts)
    const messagesOut: MessageCounts = new Map()
    for (const other of all) if (other !== s) addInto(messagesOut, other.inbound.get(s.node.id))
    const head = s.node.head
    return {
      label: s.node.label,
      transport: s.node.config.useP2PServer ? 'p2p' : 'rlpx',
      peers: s.node.peers.length,
      connections: s.liveConnections(),
      streams: s.openStreams(),
      discovered: s.discovered.size,
      ...s.bytes(),
      messagesIn,
      messagesOut,
      errors: s.errors,
      height: head.height,
      headHash: head.hash,
      peerScores: s.node.peers.map((p) => ({ peer: all.find((o) => o.node.id === p.id)?.node.label ?? p.id.slice(0, 8), score: p.score })),
      pool: s.node.poolSize,
    }
  })
}
