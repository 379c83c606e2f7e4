import { RLPX_MULTIPLEXER } from '../../p2p'
import { P2PServer } from '../net/server/p2pserver'

import type { Peer } from '../net/peer/peer'
import type { AnyServer } from '../net/server'

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
 * Connections, streams and stream buffers as the server holds them now, by
 * what carries them (`Connection.multiplexer`: mplex, or an RLPx session
 * whose capabilities are streams). On the legacy path every pooled session
 * is one RLPx connection carrying eth as a capability (no streams, devp2p
 * keeps its buffers to itself).
 */
export function connectionSnapshot(server: AnyServer): ConnectionSnapshot {
  const snapshot: ConnectionSnapshot = { connections: new Map(), streams: [], buffered: { inbound: 0, outbound: 0 } }
  if (!(server instanceof P2PServer)) {
    snapshot.connections.set(RLPX_MULTIPLEXER, server.peers.length)
    return snapshot
  }
  const streams = new Map<string, { multiplexer: string; protocol: string; count: number }>()
  for (const conn of server.connections) {
    const multiplexer = conn.multiplexer
    snapshot.connections.set(multiplexer, (snapshot.connections.get(multiplexer) ?? 0) + 1)
    for (const s of conn.streams) {
      const protocol = s.protocol ?? 'negotiating'
      const key = `${multiplexer} ${protocol}`
      const entry = streams.get(key) ?? { multiplexer, protocol, count: 0 }
      entry.count++
      streams.set(key, entry)
      snapshot.buffered.inbound += s.readableLength
      snapshot.buffered.outbound += s.writableLength
    }
  }
  snapshot.streams.push(...streams.values())
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
