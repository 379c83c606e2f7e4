/**
 * Small adapters over @ethereumjs/devp2p's RLPx session (`Peer`) and `ETH`
 * capability, kept in one file so a devp2p upgrade has one place to check.
 */
import { Peer as Devp2pPeer, ETH } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'

import { type HelloIdentityError, checkHelloId } from './identity'

import type { Capabilities, SendMethod } from '@ethereumjs/devp2p'
import type { Socket } from 'node:net'
import type { DisconnectReason } from '../../../../p2p'

/** devp2p's base-protocol message id of Disconnect (PREFIXES.DISCONNECT). */
const DISCONNECT_MESSAGE_ID = 0x01

/** Position of the node id in a Hello `[version, clientId, caps, port, id]`. */
const HELLO_ID_INDEX = 4

/** What the one private read below relies on: devp2p's ECIES session keeps the remote's static key. */
interface Devp2pEciesKeys {
  _remotePublicKey: Uint8Array | null
}

/**
 * The static public key the remote proved in the ECIES handshake, as a
 * 64-byte node id, or null before the remote's auth arrived. For a dial it is
 * the key we dialed (the remote's ack and first MAC-checked frame prove the
 * remote holds it); for an accepted connection, the key in the remote's auth
 * (its signature binds the key to the session secrets the frames are checked with).
 *
 * devp2p has no public accessor for it: `Peer.getId()` of an accepted
 * connection is whatever id the remote's Hello names (null before Hello),
 * which is exactly what a remote may lie about. The key sits in the ECIES
 * session's protected `_remotePublicKey` (65 bytes with the 0x04 prefix);
 * this is the only place that reads it, and
 * test/client/server/rlpx/devp2p.test.ts pins the read to real sessions in
 * both directions, so a devp2p upgrade that moves it fails there.
 */
export function authenticatedRemoteId(peer: Devp2pPeer): Uint8Array | null {
  const ecies = (peer as unknown as { _eciesSession?: Devp2pEciesKeys })._eciesSession
  const key = ecies?._remotePublicKey
  if (!(key instanceof Uint8Array) || key.length !== 65 || key[0] !== 0x04) return null
  return key.subarray(1)
}

/**
 * devp2p's RLPx session with the identity rule of ./identity.ts: the
 * remote's Hello must name the key its ECIES handshake authenticated.
 * Checked before devp2p reads the Hello (stock devp2p adopts the id of an
 * accepted connection's Hello unchecked), so a refused remote never gets an
 * id, a capability or a protocol instance. The refusal sends our Hello if
 * devp2p had not yet (geth sends its own while reading the remote's, and
 * devp2p reports a Disconnect only on a session past both Hellos), then
 * Disconnect with the error's reason; it ends our half of the socket and
 * devp2p reads nothing more. The error is emitted on `events` as 'identity' and kept in `identityError`.
 */
export class AuthenticatedPeer extends Devp2pPeer {
  identityError?: HelloIdentityError

  override _handleHello(payload: unknown): void {
    const claimed = Array.isArray(payload) ? (payload[HELLO_ID_INDEX] as unknown) : undefined
    const err = checkHelloId(claimed, authenticatedRemoteId(this))
    if (err === undefined) {
      super._handleHello(payload)
      return
    }
    this.identityError = err
    this.refuse(err.reason)
    this.events.emit('identity', err)
  }

  private refuse(reason: DisconnectReason): void {
    if (this._weHello === null) this._sendHello()
    this._sendMessage(DISCONNECT_MESSAGE_ID, RLP.encode(reason))
    // devp2p drops every later byte of a closed session (its 'close' event stays silent: never connected).
    this._closed = true
    this._socket.end()
  }
}

// devp2p RLP-decodes base-protocol messages (Hello, Disconnect, Ping) only for a session whose
// constructor is named 'Peer' (its _handleBody compares `protocol.constructor.name`).
Object.defineProperty(AuthenticatedPeer, 'name', { value: 'Peer' })

/**
 * Sends Disconnect on `peer`'s session and half-closes its socket at once.
 * devp2p's own `disconnect()` ends the socket from an un-cancellable 2 s
 * timer, which would outlive a client's `stop()`. `_sendMessage` is devp2p's
 * framed write (public in its typings, undocumented); before the ECIES
 * handshake there is nothing to frame with, and the socket is just ended.
 */
export function sendDisconnect(peer: Devp2pPeer, socket: Socket, reason: DisconnectReason): void {
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
