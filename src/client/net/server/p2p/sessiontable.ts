import type { Connection } from '../../../../p2p'
import type { P2PPeer } from '../../peer/p2ppeer'

/**
 * The P2PServer's table of live connections (at most one per remote id)
 * and the rule that picks one when two exist.
 */

/** One registered connection and the peer that wraps it. */
export interface P2PSession {
  readonly conn: Connection
  readonly peer: P2PPeer
  /** PEER_CONNECTED was emitted (Status handshake done). */
  connected: boolean
  /** PEER_ERROR was emitted; later errors of this session are only logged. */
  errorReported: boolean
}

/** Byte-wise order of two node ids (unsigned, most significant byte first). */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/**
 * Simultaneous-dial tie-break: of two connections between the same two
 * nodes, the one dialed by the node with the smaller id survives. Both nodes
 * evaluate the same rule on the same pair of ids, so they close the same
 * connection without talking about it. Returns the direction, seen from the
 * local node, of the connection to keep.
 */
export function preferredDirection(localId: Uint8Array, remoteId: Uint8Array): 'inbound' | 'outbound' {
  return compareIds(localId, remoteId) < 0 ? 'outbound' : 'inbound'
}

/** What to do with a newly upgraded connection to a remote we may already be connected to. */
export type Admission =
  | { action: 'add' }
  | { action: 'replace'; existing: P2PSession; reason: string }
  | { action: 'refuse'; reason: string }

/** Live sessions, by remote id and by connection. */
export class SessionTable {
  private readonly byId = new Map<string, P2PSession>()
  private readonly byConn = new Map<Connection, P2PSession>()

  get size(): number {
    return this.byId.size
  }

  get(id: string): P2PSession | undefined {
    return this.byId.get(id)
  }

  ofConnection(conn: Connection): P2PSession | undefined {
    return this.byConn.get(conn)
  }

  all(): P2PSession[] {
    return [...this.byId.values()]
  }

  /**
   * Decides on a new connection to `id`. With no session: add. With one in
   * the other direction: the tie-break picks. A second inbound one replaces
   * the first: a node dials only when it holds no connection to us, so the
   * remote has given the old one up (restart, or a link that died without a
   * FIN) even if we have not noticed yet. A second outbound one cannot come
   * from us (we dial only without a session) and is refused.
   */
  admit(localId: Uint8Array, id: string, conn: Connection): Admission {
    const existing = this.byId.get(id)
    if (existing === undefined) return { action: 'add' }
    if (existing.conn.direction === conn.direction) {
      if (conn.direction === 'inbound') return { action: 'replace', existing, reason: 'replaced by a newer inbound connection' }
      return { action: 'refuse', reason: 'duplicate outbound connection' }
    }
    if (conn.direction === preferredDirection(localId, conn.remoteId)) {
      return { action: 'replace', existing, reason: 'duplicate connection (simultaneous dial, tie-break keeps the other)' }
    }
    return { action: 'refuse', reason: 'duplicate connection (simultaneous dial, tie-break keeps the other)' }
  }

  /** True when the session to `id` is our dial and the tie-break keeps it over an inbound one from `remoteId`. */
  keepsOverInbound(localId: Uint8Array, id: string, remoteId: Uint8Array): boolean {
    const existing = this.byId.get(id)
    if (existing === undefined) return false
    return existing.conn.direction === 'outbound' && preferredDirection(localId, remoteId) === 'outbound'
  }

  add(session: P2PSession): void {
    this.byId.set(session.peer.id, session)
    this.byConn.set(session.conn, session)
  }

  /** Removes `session` if it is still the registered one for its id; returns whether it was registered. */
  remove(session: P2PSession): boolean {
    if (this.byConn.get(session.conn) !== session) return false
    this.byConn.delete(session.conn)
    if (this.byId.get(session.peer.id) === session) this.byId.delete(session.peer.id)
    return true
  }

  clear(): void {
    this.byId.clear()
    this.byConn.clear()
  }
}
