import { createServer } from 'node:net'

import { utf8ToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { DisconnectReason } from '../../../p2p'
import { ServerError, describeError } from '../../errors'
import { Event } from '../../types'
import { disconnectReasonFor } from '../disconnect'
import { RlpxPeer } from '../peer/rlpxpeer'
import { NoSharedVersionError } from '../protocol/errors'
import { EthProtocol } from '../protocol/ethprotocol'

import { withClientEth } from './rlpx/devp2p'
import { RlpxSessions, type Session } from './rlpx/sessions'
import { type PeerSession, Server, type ServerOptions } from './server'

import type { Capabilities } from '@ethereumjs/devp2p'
import type { HelloIdentityError } from './rlpx/identity'
import type { Server as NetServer, Socket } from 'node:net'
import type { DialTarget } from './dialscheduler'

const log = debug('client:rlpx')

/** Client id sent in the devp2p Hello. */
export const RLPX_CLIENT_ID = 'ethp2p/v0.1.0'
/** After our Disconnect on shutdown, how long a remote gets to close its end before the socket is destroyed. */
export const DISCONNECT_GRACE_MS = 1_000

/** Our view of one RLPx session once Hello is done. */
interface Bound extends PeerSession<RlpxPeer> {
  session: Session
}

/**
 * The legacy networking path: discv4 discovery and RLPx sessions (devp2p
 * ECIES/Hello/framing, see RlpxSessions), with eth bound through EthProtocol.
 * Discovered nodes are dialed up to `maxPeers` (the node with the lower id
 * dials first, the other yields `dialBackoffMs`); a peer is announced
 * (PEER_CONNECTED) once its Status handshake succeeded, and a peer on another
 * chain ends in PEER_ERROR saying which field differs. Lifecycle, discovery,
 * bans and dial scheduling are the base Server's.
 */
export class RlpxServer extends Server {
  readonly name = 'rlpx' as const
  private tcp: NetServer | null = null
  private sessions: RlpxSessions | null = null
  private readonly bound = new Map<Session, Bound>()

  constructor(opts: ServerOptions) {
    super(opts)
  }

  /** Peers whose Status handshake is done. */
  get peers(): RlpxPeer[] {
    return [...this.bound.values()].filter((b) => b.connected).map((b) => b.peer)
  }

  protected async listen(): Promise<number> {
    const capabilities: Capabilities[] = []
    for (const p of this.protocols) if (p instanceof EthProtocol) capabilities.push(...p.capabilities)
    if (capabilities.length === 0) {
      throw new ServerError('ERR_SERVER_NO_PROTOCOLS', 'no RLPx capability to offer; call addProtocols() first')
    }
    const port = await this.listenTcp()
    this.sessions = this.createSessions(withClientEth(capabilities), port)
    return port
  }

  protected dial(target: DialTarget): void {
    this.sessions?.dial(target.host, target.port, target.remoteId)
  }

  protected isEngaged(id: string): boolean {
    return this.sessions === null || this.sessions.has(id)
  }

  protected dialsInProgress(): number {
    return this.sessions?.dialing ?? 0
  }

  /** Every RLPx connection, dialed or accepted, from its first byte: each holds a socket and a handshake. */
  protected slotsUsed(): number {
    return this.sessions?.size ?? 0
  }

  protected dropBanned(peerId: string, reason: DisconnectReason): void {
    for (const b of this.bound.values()) if (b.peer.id === peerId) void b.peer.disconnect(reason, 'banned')
  }

  protected async close(): Promise<void> {
    const closing: Promise<unknown>[] = []
    const tcp = this.tcp
    this.tcp = null
    if (tcp !== null) closing.push(new Promise((resolve) => tcp.close(resolve)))
    for (const b of this.bound.values()) {
      if (b.connected) this.config.events.emit(Event.PEER_DISCONNECTED, b.peer, 'server stopping')
    }
    this.bound.clear()
    if (this.sessions !== null) closing.push(this.sessions.closeAll(DISCONNECT_GRACE_MS))
    this.sessions = null
    await Promise.all(closing)
  }

  private async listenTcp(): Promise<number> {
    const tcp = createServer()
    this.tcp = tcp
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(this.config.port, this.config.bindAddress, () => {
        tcp.off('error', reject)
        resolve()
      })
    })
    const addr = tcp.address()
    if (addr === null || typeof addr === 'string') throw new ServerError('ERR_SERVER_START', 'TCP listener has no port')
    tcp.on('error', (err) => this.config.events.emit(Event.SERVER_ERROR, err, this))
    tcp.on('connection', (socket) => this.onInbound(socket))
    return addr.port
  }

  private createSessions(capabilities: Capabilities[], listenPort: number): RlpxSessions {
    const sessions = new RlpxSessions({
      privateKey: this.key,
      nodeId: this.config.nodeId,
      clientId: utf8ToBytes(RLPX_CLIENT_ID),
      capabilities,
      common: this.config.common,
      listenPort,
      dialTimeoutMs: this.config.dialTimeoutMs,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      pingTimeoutMs: this.config.pingTimeoutMs,
    })
    sessions.on('up', (s) => this.onSessionUp(s))
    sessions.on('down', (s, reason) => this.onSessionDown(s, reason))
    sessions.on('aborted', (s) => this.onSessionAborted(s))
    sessions.on('error', (s, err) => {
      const b = this.bound.get(s)
      if (b !== undefined) this.reportPeerError(b, err, 'ERR_PEER_RLPX')
    })
    return sessions
  }

  private onInbound(socket: Socket): void {
    const sessions = this.sessions
    if (this.state !== 'started' || sessions === null) {
      socket.destroy()
      return
    }
    if (!this.hasFreeSlot()) {
      this.stats.inboundRefused++
      log('refusing inbound %s:%d: too many peers (%d of %d slots in use)', socket.remoteAddress, socket.remotePort, this.slotsUsed(), this.config.maxPeers)
      socket.destroy()
      return
    }
    sessions.accept(socket)
  }

  private onSessionUp(session: Session): void {
    // A dial is over: another may start (maxConcurrentDials).
    if (session.outbound) this.scheduler.refill()
    const id = session.id as string
    const devp2p = session.devp2p
    if (this.state !== 'started' || devp2p === undefined) return
    if (this.isBanned(id)) {
      if (!session.outbound) this.stats.inboundRefused++
      log('refusing banned peer %s', id.slice(0, 8))
      this.sessions?.disconnect(session, DisconnectReason.USELESS_PEER, 'banned')
      return
    }
    const peer = new RlpxPeer({
      config: this.config,
      rlpxPeer: devp2p,
      socket: session.socket,
      close: (reason, detail) => this.sessions?.disconnect(session, reason, detail),
      id,
      address: `${session.socket.remoteAddress}:${session.socket.remotePort}`,
      inbound: !session.outbound,
      protocols: [...this.protocols],
    })
    const b: Bound = { session, peer, connected: false, errorReported: false }
    this.bound.set(session, b)
    peer.connect().then(
      () => {
        if (this.bound.get(session) === b && !session.closing) this.announceConnected(b)
      },
      (err: unknown) => {
        this.reportPeerError(b, err, 'ERR_PEER_RLPX')
        void peer.disconnect(disconnectReasonFor(err), describeError(err))
      },
    )
  }

  private onSessionDown(session: Session, reason: string): void {
    const b = this.bound.get(session)
    if (b === undefined) return
    this.bound.delete(session)
    log('peer gone: %s (%s)', b.peer.toString(), reason)
    if (b.connected && this.state === 'started') this.config.events.emit(Event.PEER_DISCONNECTED, b.peer, reason)
    // A remote that sent Disconnect (too many peers, useless peer, ...) would say it again if
    // redialed at once; a connection that just broke is worth re-establishing right away.
    if (!session.closing && session.disconnectReason !== undefined) this.scheduler.dialFailed(b.peer.id)
    this.scheduler.refill()
  }

  /**
   * A connection that never got through Hello freed its slot; our own failed
   * dial starts the redial backoff. A remote whose Hello shared no eth version
   * with ours (devp2p ends such a session itself, with USELESS_PEER) is
   * reported once and banned, whichever side dialed: redialing it could only
   * fail the same way.
   */
  private onSessionAborted(session: Session): void {
    if (this.state !== 'started') return
    if (session.identityError !== undefined) {
      this.onIdentityRefused(session, session.identityError)
      this.scheduler.refill()
      return
    }
    const noShared = noSharedEthVersion(session, this.config.ethVersions)
    // session.id is the ECIES-authenticated key; the Hello's id is never trusted on its own.
    if (noShared !== undefined && session.id !== undefined) {
      this.refuseIncompatible(noShared, { id: session.id, address: addressOf(session), inbound: !session.outbound })
      return
    }
    if (session.outbound && !session.closing && session.id !== undefined) {
      this.stats.dialFailures++
      log('dial %s failed', session.id.slice(0, 8))
      this.scheduler.dialFailed(session.id)
    }
    this.scheduler.refill()
  }

  /**
   * A remote whose Hello named another id than its authenticated key (its
   * session already ended with INVALID_IDENTITY or UNEXPECTED_IDENTITY). It
   * is reported under the key it proved, the only id it has; the id it
   * claimed is not banned, pooled or dialed, so its owner is unaffected.
   */
  private onIdentityRefused(session: Session, err: HelloIdentityError): void {
    const address = addressOf(session)
    if (session.outbound) {
      this.stats.dialFailures++
      // The node we dialed proved its key and then lied in its Hello: back off as from any failed dial.
      if (session.id !== undefined) this.scheduler.dialFailed(session.id)
    } else {
      this.stats.inboundRefused++
    }
    if (err.authenticatedId === undefined) {
      log('refused %s %s: %s', session.outbound ? 'dial to' : 'inbound from', address, err.message)
      return
    }
    this.reportRefusedRemote(err, { id: err.authenticatedId, address, inbound: !session.outbound })
  }
}

function addressOf(session: Session): string {
  return `${session.socket.remoteAddress ?? 'unknown'}:${session.socket.remotePort ?? 0}`
}

/** The refusal of a session whose remote Hello offered no eth version we offer; undefined if it did or sent no Hello. */
function noSharedEthVersion(session: Session, ours: readonly number[]): NoSharedVersionError | undefined {
  const hello = session.devp2p?.getHelloMessage()
  if (hello === null || hello === undefined) return undefined
  const theirs = hello.capabilities.filter((c) => c.name === 'eth').map((c) => c.version)
  if (theirs.some((v) => ours.includes(v))) return undefined
  return new NoSharedVersionError(ours, theirs)
}
