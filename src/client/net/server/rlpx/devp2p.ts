/**
 * Small adapters over @ethereumjs/devp2p's RLPx session (`Peer`) and `ETH`
 * capability, kept in one file so a devp2p upgrade has one place to check.
 */
import { ETH } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'

import type { Capabilities, DISCONNECT_REASON, Peer as Devp2pPeer, SendMethod } from '@ethereumjs/devp2p'
import type { Socket } from 'node:net'

/** devp2p's base-protocol message id of Disconnect (PREFIXES.DISCONNECT). */
const DISCONNECT_MESSAGE_ID = 0x01

/**
 * Sends Disconnect on `peer`'s session and half-closes its socket at once.
 * devp2p's own `disconnect()` ends the socket from an un-cancellable 2 s
 * timer, which would outlive a client's `stop()`. `_sendMessage` is devp2p's
 * framed write (public in its typings, undocumented); before the ECIES
 * handshake there is nothing to frame with, and the socket is just ended.
 */
export function sendDisconnect(peer: Devp2pPeer, socket: Socket, reason: DISCONNECT_REASON): void {
  if (socket.destroyed || socket.writableEnded) return
  if (peer.getHelloMessage() !== null) peer._sendMessage(DISCONNECT_MESSAGE_ID, RLP.encode(reason))
  socket.end()
}

/**
 * devp2p's ETH, minus a leak: ETH arms a 5 s Status timer when the session
 * starts and clears it only when both Status messages were exchanged, so a
 * session that ends earlier (duplicate, refused, stopped) would leave the
 * timer running. This one clears it when the session closes.
 */
export class ClientEth extends ETH {
  constructor(version: number, peer: Devp2pPeer, send: SendMethod) {
    super(version, peer, send)
    peer.events.once('close', () => clearTimeout(this._statusTimeoutId))
  }
}

/** The same capabilities, devp2p's own ETH instantiated as ClientEth (our eth/69+ class is left as it is). */
export function withClientEth(capabilities: Capabilities[]): Capabilities[] {
  const devp2pEth: Capabilities['constructor'] = ETH
  return capabilities.map((c): Capabilities => (c.constructor === devp2pEth ? { ...c, constructor: ClientEth } : c))
}
