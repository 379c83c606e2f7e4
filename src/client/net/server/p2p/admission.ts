import debug from 'debug'

import { peerIdHex } from '../../peer/peer'
import { type ConnectionGater, DisconnectReason, type HostPort } from '../../../../p2p'
import type { BanList } from '../../banlist'
import type { SessionTable } from './sessiontable'

const log = debug('client:p2p:admission')

/** What the gater asks the server. */
export interface AdmissionPolicy {
  localId: Uint8Array
  accepting(): boolean
  /** Slots a new inbound socket cannot take over: established sessions (see createGater). */
  committedSlots(): number
  maxPeers(): number
  bans: BanList
  sessions: SessionTable
  /** Counts a refusal (for the server's statistics). */
  onRefused(): void
}

/**
 * Refusal hooks the stack consults: at accept (peer slots; the reason is
 * logged), right after the ECIES handshake when the remote id is first known
 * (bans, a duplicate the tie-break would close anyway: an RLPx peer is sent
 * USELESS_PEER or ALREADY_CONNECTED), and before a dial (bans).
 *
 * At accept only established sessions count. A socket still in its handshake
 * may be a staller, and the listener bounds those itself (its pending-handshake
 * table evicts the oldest when full): refusing new sockets because stallers
 * hold the slots would lock every honest node out until the handshake timeout.
 * Nor do our own dials in progress count: the socket may be the very node we
 * are dialing (a crossed dial, settled by the tie-break), and when two nodes
 * that both have every slot taken by dials refuse each other, neither gets
 * the connection. maxPeers is enforced once the connection is upgraded
 * (P2PServer.onConnection), as geth checks it after the handshake.
 */
export function createGater(p: AdmissionPolicy): ConnectionGater {
  return {
    denyInboundSocket: (addr: HostPort) => {
      if (!p.accepting()) return true
      const used = p.committedSlots()
      if (used < p.maxPeers()) return false
      p.onRefused()
      log('refusing inbound %s:%d: too many peers (%d sessions, maxPeers %d)', addr.host, addr.port, used, p.maxPeers())
      return true
    },
    denyInboundPeer: (remoteId: Uint8Array, addr: HostPort) => {
      const id = peerIdHex(remoteId)
      let refusal: { why: string; reason: DisconnectReason } | undefined
      // The reasons geth gives (and disconnect.ts lists): a banned node is useless to us.
      if (p.bans.isBanned(id)) refusal = { why: 'banned', reason: DisconnectReason.USELESS_PEER }
      else if (p.sessions.keepsOverInbound(p.localId, id, remoteId)) {
        refusal = { why: 'already connected (tie-break keeps the existing connection)', reason: DisconnectReason.ALREADY_CONNECTED }
      }
      if (refusal === undefined) return false
      p.onRefused()
      log('refusing inbound %s from %s:%d: %s', id.slice(0, 8), addr.host, addr.port, refusal.why)
      return refusal.reason
    },
    denyDial: (remoteId: Uint8Array) => p.bans.isBanned(peerIdHex(remoteId)),
  }
}
