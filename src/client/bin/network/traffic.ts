/**
 * Reads a peer's byte counters and stream count through whatever the peer's
 * transport exposes. Kept in one file: this is the only place that knows how
 * each Peer subclass reaches its socket or connection.
 */
import { P2PPeer } from '../../net/peer/p2ppeer'
import { RlpxPeer } from '../../net/peer/rlpxpeer'

import type { Socket } from 'node:net'
import type { Peer } from '../../net/peer/peer'

export interface ByteCounts {
  /** Bytes on the wire, as the transport counts them (ciphertext and framing included). */
  bytesIn: number
  bytesOut: number
}

/** Bytes exchanged with `peer` so far; undefined if its transport does not tell. */
export function peerBytes(peer: Peer): ByteCounts | undefined {
  if (peer instanceof P2PPeer) {
    const { bytesIn, bytesOut } = peer.connection.stats
    return { bytesIn, bytesOut }
  }
  if (peer instanceof RlpxPeer) {
    const socket = devp2pSocket(peer)
    return socket === undefined ? undefined : { bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten }
  }
  return undefined
}

/** Open streams with `peer` (P2P path); undefined on transports without streams (RLPx). */
export function peerStreamCount(peer: Peer): number | undefined {
  return peer instanceof P2PPeer ? peer.getStreams().length : undefined
}

/**
 * The TCP socket of an RLPx session. devp2p's Peer keeps it in the
 * protected `_socket` field and has no public accessor; a net.Socket keeps
 * its byte counters after it closed, so the totals stay readable.
 * Isolated here on purpose: the one devp2p internal the script touches.
 */
function devp2pSocket(peer: RlpxPeer): Socket | undefined {
  const socket = (peer.rlpxPeer as unknown as { _socket?: Socket })._socket
  return socket !== undefined && typeof socket.bytesRead === 'number' ? socket : undefined
}
