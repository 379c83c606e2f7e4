import { P2PServer } from '../net/server/p2pserver'

import type { Peer } from '../net/peer/peer'
import type { AnyServer } from '../net/server'

/** The multiplexer of the modular stack's connections. */
export const MPLEX = '/mplex/6.7.0'
/** What carries a legacy-path session's capabilities. */
export const RLPX = 'rlpx'

/**
 * Byte totals of pooled peers, monotonic across sessions: live peers are read
 * from their socket counters when scraped, and a peer leaving the pool adds
 * its final counts to the retired totals (its counters survive the close).
 */
export class PeerTraffic {
  private retiredIn = 0
  private retiredOut = 0
  private readonly retired = new WeakSet<Peer>()

  retire(peer: Peer): void {
    const b = peer.bytes
    if (b === undefined || this.retired.has(peer)) return
    this.retired.add(peer)
    this.retiredIn += b.bytesIn
    this.retiredOut += b.bytesOut
  }

  totals(live: readonly Peer[]): { bytesIn: number; bytesOut: number } {
    let bytesIn = this.retiredIn
    let bytesOut = this.retiredOut
    for (const peer of live) {
      const b = peer.bytes
      if (b === undefined || this.retired.has(peer)) continue
      bytesIn += b.bytesIn
      bytesOut += b.bytesOut
    }
    return { bytesIn, bytesOut }
  }
}

export interface ConnectionSnapshot {
  /** Live connections by multiplexer. */
  connections: Map<string, number>
  streams: { multiplexer: string; protocol: string; count: number }[]
  /** Bytes held in stream buffers: unread inbound, unwritten outbound. */
  buffered: { inbound: number; outbound: number }
}

/**
 * Connections, streams and stream buffers as the server holds them now. On
 * the legacy path every pooled session is one RLPx connection carrying eth as
 * a capability (no streams, devp2p keeps its buffers to itself).
 */
export function connectionSnapshot(server: AnyServer): ConnectionSnapshot {
  const snapshot: ConnectionSnapshot = { connections: new Map(), streams: [], buffered: { inbound: 0, outbound: 0 } }
  if (!(server instanceof P2PServer)) {
    snapshot.connections.set(RLPX, server.peers.length)
    return snapshot
  }
  const streams = new Map<string, number>()
  for (const conn of server.connections) {
    snapshot.connections.set(MPLEX, (snapshot.connections.get(MPLEX) ?? 0) + 1)
    for (const s of conn.streams) {
      const protocol = s.protocol ?? 'negotiating'
      streams.set(protocol, (streams.get(protocol) ?? 0) + 1)
      snapshot.buffered.inbound += s.readableLength
      snapshot.buffered.outbound += s.writableLength
    }
  }
  for (const [protocol, count] of streams) snapshot.streams.push({ multiplexer: MPLEX, protocol, count })
  return snapshot
}

/** Ban reasons by what they start with: the words PeerPool, the service and reputation use. */
const BAN_CATEGORIES: readonly [prefix: string, category: string][] = [
  ['protocol error', 'protocol_error'],
  ['request flood', 'request_flood'],
  ['unexpected ', 'unexpected_message'],
  ['reputation', 'reputation'],
]

/** A bounded label for a ban reason (the reason text itself carries peer-specific detail). */
export function banCategory(reason: string): string {
  for (const [prefix, category] of BAN_CATEGORIES) if (reason.startsWith(prefix)) return category
  return 'other'
}
