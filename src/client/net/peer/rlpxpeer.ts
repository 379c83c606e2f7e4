import { DISCONNECT_REASON, ETH } from '@ethereumjs/devp2p'
import debug from 'debug'

import { PeerError } from '../../errors'
import { RlpxSender } from '../protocol/rlpxsender'

import { Peer } from './peer'

import type { Config } from '../../config'
import type { Protocol } from '../protocol/protocol'
import type { Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import type { Socket } from 'node:net'
import type { ByteCounts } from './peer'

const log = debug('client:rlpxpeer')

export interface RlpxPeerOptions {
  config: Config
  /** The devp2p session (ECIES + Hello done) this peer wraps. */
  rlpxPeer: Devp2pPeer
  /** The session's TCP socket (owned by the server): the source of the byte counts. */
  socket: Socket
  /** Ends the session (Disconnect with `reason`, then the socket); provided by the server owning the socket. */
  close: (reason: DISCONNECT_REASON) => void
  id: string
  address: string
  inbound: boolean
  protocols: Protocol[]
}

/** devp2p Disconnect reasons for the words the client uses. */
const DISCONNECT_CODES: Record<string, DISCONNECT_REASON> = {
  'pool full': DISCONNECT_REASON.TOO_MANY_PEERS,
  'too many peers': DISCONNECT_REASON.TOO_MANY_PEERS,
  banned: DISCONNECT_REASON.USELESS_PEER,
  'already in pool': DISCONNECT_REASON.ALREADY_CONNECTED,
  'client quitting': DISCONNECT_REASON.CLIENT_QUITTING,
  'protocol error': DISCONNECT_REASON.SUBPROTOCOL_ERROR,
}

/**
 * A peer on the legacy path: one @ethereumjs/devp2p RLPx session. The TCP,
 * ECIES and Hello steps are done when this object is made; `connect()` binds
 * each protocol to the matching devp2p capability through an RlpxSender and
 * runs its Status handshake.
 */
export class RlpxPeer extends Peer {
  readonly rlpxPeer: Devp2pPeer
  private readonly socket: Socket
  private readonly closeSession: (reason: DISCONNECT_REASON) => void
  private disconnected = false

  constructor(opts: RlpxPeerOptions) {
    super({ ...opts, transport: 'rlpx' })
    this.rlpxPeer = opts.rlpxPeer
    this.socket = opts.socket
    this.closeSession = opts.close
  }

  /** Bytes on the session's socket (ciphertext and RLPx framing included); kept after it closed. */
  override get bytes(): ByteCounts {
    return { bytesIn: this.socket.bytesRead, bytesOut: this.socket.bytesWritten }
  }

  override get clientName(): string | undefined {
    return this.rlpxPeer.getHelloMessage()?.clientId
  }

  /** Every capability the remote's Hello offered. */
  override get capabilities(): string[] {
    return (this.rlpxPeer.getHelloMessage()?.capabilities ?? []).map((c) => `${c.name}/${c.version}`)
  }

  override get localAddress(): string | undefined {
    return this.socket.localAddress === undefined ? undefined : `${this.socket.localAddress}:${this.socket.localPort}`
  }

  async connect(): Promise<void> {
    for (const protocol of this.protocols) {
      if (protocol.name !== 'eth') {
        throw new PeerError('ERR_PEER_UNSUPPORTED_PROTOCOL', `RLPx peers carry only eth, not ${protocol.name}`)
      }
      const eth = this.rlpxPeer.getProtocols().find((p): p is ETH => p instanceof ETH)
      if (eth === undefined) {
        throw new PeerError('ERR_PEER_NO_SHARED_CAPABILITY', `${this.toString()} shares no eth version with us`)
      }
      await this.bindProtocol(protocol, new RlpxSender(eth, { peer: this.rlpxPeer, meter: this.config.meter }))
    }
  }

  /**
   * Sends devp2p Disconnect (reason mapped from the words, e.g. 'banned' ->
   * USELESS_PEER) and ends the socket; the server reports PEER_DISCONNECTED
   * once the socket is closed.
   */
  async disconnect(reason = 'disconnect requested'): Promise<void> {
    if (this.disconnected) return
    this.disconnected = true
    log('disconnecting %s: %s', this.toString(), reason)
    this.closeSession(DISCONNECT_CODES[reason] ?? DISCONNECT_REASON.DISCONNECT_REQUESTED)
  }
}
