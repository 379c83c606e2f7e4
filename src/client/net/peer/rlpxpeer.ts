import debug from 'debug'

import { DisconnectReason } from '../../../p2p'
import { NoSharedCapabilityError, PeerError } from '../../errors'
import { describeDisconnect } from '../disconnect'
import { rlpxEthSender } from '../protocol/rlpxwire'

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
  close: (reason: DisconnectReason, detail?: string) => void
  id: string
  address: string
  inbound: boolean
  protocols: Protocol[]
}

/**
 * A peer on the legacy path: one @ethereumjs/devp2p RLPx session. The TCP,
 * ECIES and Hello steps are done when this object is made; `connect()` binds
 * each protocol to the eth capability devp2p negotiated (its own ETH up to
 * eth/68, our EthWire from eth/69 on; see rlpxEthSender) and runs its Status
 * handshake.
 */
export class RlpxPeer extends Peer {
  readonly rlpxPeer: Devp2pPeer
  private readonly socket: Socket
  private readonly closeSession: (reason: DisconnectReason, detail?: string) => void
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
      // The sender ends the session through us, so its reason (a protocol violation, a Status timeout) is the one sent.
      const sender = rlpxEthSender(this.rlpxPeer, {
        maxMessageSize: this.config.maxMessageSize,
        meter: this.config.meter,
        disconnect: (reason, detail) => void this.disconnect(reason, detail),
      })
      if (sender === undefined) throw new NoSharedCapabilityError(`${this.toString()} shares no eth version with us`)
      await this.bindProtocol(protocol, sender)
    }
  }

  /**
   * Sends devp2p Disconnect with `reason` and ends the socket; the server
   * reports PEER_DISCONNECTED once the socket is closed. Idempotent: the first reason is the one sent.
   */
  async disconnect(reason: DisconnectReason = DisconnectReason.DISCONNECT_REQUESTED, detail?: string): Promise<void> {
    if (this.disconnected) return
    this.disconnected = true
    log('disconnecting %s: %s', this.toString(), describeDisconnect(reason, detail))
    this.closeSession(reason, detail)
  }
}
