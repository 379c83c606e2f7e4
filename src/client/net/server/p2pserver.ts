import debug from 'debug'

import { peerIdHex } from '../peer/peer'
import { PeerError, ServerError, describeError } from '../../errors'
import { Event, type ConnectionInfo } from '../../types'
import { describeDisconnect, disconnectReasonFor } from '../disconnect'
import { P2PPeer } from '../peer/p2ppeer'
import { NoSharedVersionError, PeerDisconnectedError, StatusMismatchError } from '../protocol/errors'
import { type EthStreamHandler, StreamEthProtocol } from '../protocol/streamethprotocol'
import {
  type Connection,
  DisconnectReason,
  InboundUpgradeError,
  ListenError,
  Registrar,
  RlpxRemoteDisconnectError,
  Transport,
  type TransportListener,
  Upgrader,
} from '../../../p2p'

import { createGater } from './p2p/admission'
import { type P2PSession, SessionTable } from './p2p/sessiontable'
import { Dialer } from './p2p/dialer'
import { type RlpxRefusal, rlpxRefusal } from './p2p/refusal'
import { RLPX_CLIENT_ID } from './rlpxserver'
import { Server, type ServerOptions } from './server'

import type { DialTarget } from './dialscheduler'

const log = debug('client:p2p')

/**
 * The modular-stack server: discv4 discovery (shared with RlpxServer through
 * the base Server) feeding `transport.dial`, a TransportListener for inbound
 * connections, an Upgrader (ECIES with the node key, then mplex, or the
 * devp2p base protocol with an RLPx node), and a Registrar holding the
 * StreamEthProtocol handlers. Each upgraded connection becomes a P2PPeer,
 * whichever of the two carries it; once its ETH Status handshake is done the
 * server emits PEER_CONNECTED, exactly as RlpxServer does for an RLPx session.
 *
 * A mixed network: RLPx nodes (geth, @ethereumjs/devp2p, an RlpxServer) are
 * served on the same port as modular ones. The stack tells them apart by
 * their first frame and remembers which nodes speak RLPx only, so a dial to
 * one runs RLPx; our Hello offers eth as `config.ethVersions` and says the
 * listen port, its Pings expect a Pong within `pingTimeoutMs`. A Hello that
 * names another id than the remote's key, or shares no eth version, is
 * refused and reported as on the legacy path (p2p/refusal.ts).
 *
 * Policy: at most `maxPeers` connections. Dials in progress count, and so do
 * inbound handshakes, when deciding whether to dial; inbound sockets are
 * refused at accept (with a logged reason) once sessions fill every slot, and
 * an upgraded connection beyond maxPeers is closed; handshakes in progress are
 * bounded by the listener, which evicts the oldest when its table is full, so
 * sockets that never handshake cannot lock honest nodes out. Dials start
 * at most maxConcurrentDials at a time, the lower id of two first. One
 * connection per remote id (simultaneous dials: the connection dialed by the
 * node with the smaller id survives, see p2p/sessiontable.ts); never dials
 * itself (our id is derived from our public key); banned ids are refused at
 * dial and right after the ECIES handshake (the first point the remote id
 * is known); peers on another chain are banned.
 */
export class P2PServer extends Server {
  readonly name = 'p2p' as const
  readonly registrar: Registrar
  readonly upgrader: Upgrader
  readonly transport: Transport
  listener: TransportListener | null = null
  private readonly dialer: Dialer
  private readonly sessions = new SessionTable()
  private readonly refusedClosing = new Set<Promise<void>>()

  constructor(opts: ServerOptions) {
    super(opts)
    this.registrar = new Registrar()
    this.upgrader = new Upgrader({
      privateKey: this.key,
      registrar: this.registrar,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      rlpx: {
        clientId: RLPX_CLIENT_ID,
        // The port the listener bound (config.port may be 0); the spec says to ignore it, geth still sends it.
        listenPort: () => this.listener?.address().port ?? this.config.port,
        pongTimeoutMs: this.config.pingTimeoutMs,
        maxMessageSize: this.config.maxMessageSize,
      },
      gater: createGater({
        localId: this.config.nodeId,
        accepting: () => this.state === 'started',
        committedSlots: () => this.sessions.size,
        maxPeers: () => this.config.maxPeers,
        bans: this.bans,
        sessions: this.sessions,
        onRefused: () => this.stats.inboundRefused++,
      }),
    })
    this.transport = new Transport({ upgrader: this.upgrader, dialTimeoutMs: this.config.dialTimeoutMs })
    this.dialer = new Dialer({
      transport: this.transport,
      onConnection: (conn) => {
        this.onConnection(conn)
        // The dial is over: another may start (maxConcurrentDials).
        this.scheduler.refill()
      },
      onFailure: (target, err) => this.onDialFailed(target, err),
    })
  }

  /** Peers with a completed Status handshake. */
  get peers(): P2PPeer[] {
    return this.sessions.all().filter((s) => s.connected).map((s) => s.peer)
  }

  /** Every live connection (handshaking or connected). */
  get connections(): Connection[] {
    return this.sessions.all().map((s) => s.conn)
  }

  protected async listen(): Promise<number> {
    const eth = this.ethProtocols()
    if (eth.length === 0) throw new ServerError('ERR_SERVER_NO_PROTOCOLS', 'no StreamEthProtocol to offer; call addProtocols() first')
    for (const p of eth) p.register(this.registrar, this.onEthStream)
    const listener = this.transport.createListener()
    this.listener = listener
    listener.on('connection', this.onInbound)
    listener.on('refused', this.onRefused)
    listener.on('error', this.onListenerError)
    await listener.listen({ host: this.config.bindAddress, port: this.config.port })
    return listener.address().port
  }

  protected dial(target: DialTarget): void {
    this.dialer.dial(target)
  }

  protected isEngaged(id: string): boolean {
    return this.dialer.isDialing(id) || this.sessions.get(id) !== undefined
  }

  protected dialsInProgress(): number {
    return this.dialer.size
  }

  /** Slots taken, for dialing: sessions, dials in progress, inbound sockets still in their handshake. */
  protected slotsUsed(): number {
    return this.sessions.size + this.dialer.size + (this.listener?.pendingHandshakes ?? 0)
  }

  protected dropBanned(peerId: string, reason: DisconnectReason): void {
    this.dialer.abort(peerId, new PeerError('ERR_PEER_BANNED', `peer ${peerId.slice(0, 8)} banned`))
    void this.sessions.get(peerId)?.peer.disconnect(reason, 'banned')
  }

  /** Closes every connection, dial and the listener; the base closes discovery afterwards. */
  protected async close(): Promise<void> {
    await this.dialer.abortAll(new ServerError('ERR_SERVER_STOPPING', 'server stopping'))
    const closing: Promise<unknown>[] = this.sessions.all().map((s) => s.peer.disconnect(DisconnectReason.CLIENT_QUITTING, 'server stopping'))
    const listener = this.listener
    if (listener !== null) closing.push(listener.close())
    closing.push(...this.refusedClosing)
    await Promise.all(closing)
    if (listener !== null) {
      listener.off('connection', this.onInbound)
      listener.off('refused', this.onRefused)
      listener.off('error', this.onListenerError)
    }
    this.listener = null
    for (const p of this.ethProtocols()) p.unregister(this.registrar)
    this.sessions.clear()
  }

  private ethProtocols(): StreamEthProtocol[] {
    return [...this.protocols].filter((p): p is StreamEthProtocol => p instanceof StreamEthProtocol)
  }

  private readonly onInbound = (conn: Connection): void => this.onConnection(conn)

  private readonly onRefused = (err: Error): void => {
    log('%s', err.message)
    // An evicted handshake frees the slot it held for dialing.
    this.scheduler.refill()
  }

  private readonly onListenerError = (err: Error): void => {
    if (err instanceof ListenError) {
      this.config.events.emit(Event.SERVER_ERROR, err, this)
      return
    }
    const refusal = this.state === 'started' ? rlpxRefusal(err, this.config.ethVersions) : undefined
    if (refusal !== undefined && err instanceof InboundUpgradeError) {
      this.stats.inboundRefused++
      this.refuseRlpx(refusal, `${err.remoteAddr.host}:${err.remoteAddr.port}`, true)
    } else {
      log('inbound upgrade failed: %s', describeError(err))
    }
    // The failed handshake held a slot for dialing: a queued node may go now.
    this.scheduler.refill()
  }

  /** The one route of an inbound ETH stream: Registrar → here → the session's peer. */
  private readonly onEthStream: EthStreamHandler = (stream, conn) => {
    const session = this.sessions.ofConnection(conn)
    if (session === undefined) {
      log('eth stream on unregistered connection %s: reset', conn.id)
      stream.reset()
      return
    }
    session.peer.acceptEthStream(stream)
  }

  private onDialFailed(target: DialTarget, err: unknown): void {
    this.stats.dialFailures++
    if (this.state !== 'started') return
    const address = `${target.host}:${target.port}`
    log('dial %s at %s failed: %s', target.id.slice(0, 8), address, describeError(err))
    const refusal = rlpxRefusal(err, this.config.ethVersions)
    if (refusal !== undefined) this.refuseRlpx(refusal, address, false)
    this.scheduler.dialFailed(target.id)
    this.scheduler.refill()
  }

  /**
   * An RLPx peer refused in its Hello exchange, reported as RlpxServer reports
   * it: one PEER_ERROR under its proved key; one sharing no eth version is
   * also banned, a Hello naming another id is not (that id's owner must stay
   * unaffected).
   */
  private refuseRlpx(refusal: RlpxRefusal, address: string, inbound: boolean): void {
    const remote = { id: refusal.remoteId, address, inbound }
    if (refusal.error instanceof NoSharedVersionError) this.refuseIncompatible(refusal.error, remote)
    else this.reportRefusedRemote(refusal.error, remote)
  }

  private onConnection(conn: Connection): void {
    const id = peerIdHex(conn.remoteId)
    const info: ConnectionInfo = {
      id: conn.id,
      peerId: id,
      address: `${conn.remoteAddr.host}:${conn.remoteAddr.port}`,
      direction: conn.direction,
      multiplexer: conn.multiplexer,
    }
    this.config.events.emit(Event.CONNECTION_OPENED, info)
    const admission = this.sessions.admit(this.config.nodeId, id, conn)
    let refusal: [DisconnectReason, string?] | undefined
    if (this.state !== 'started') refusal = [DisconnectReason.CLIENT_QUITTING, 'server stopping']
    else if (this.isBanned(id)) refusal = [DisconnectReason.USELESS_PEER, 'banned']
    else if (admission.action === 'refuse') refusal = [DisconnectReason.ALREADY_CONNECTED, admission.reason]
    else if (admission.action === 'add' && this.sessions.size >= this.config.maxPeers) refusal = [DisconnectReason.TOO_MANY_PEERS]
    if (refusal !== undefined) {
      this.refuse(conn, info, ...refusal)
      return
    }
    if (admission.action === 'replace') {
      log('%s: duplicate connection, keeping %s (%s)', admission.existing.peer.toString(), conn.id, conn.direction)
      void admission.existing.peer.disconnect(DisconnectReason.ALREADY_CONNECTED, admission.reason)
    }
    const peer = new P2PPeer({ config: this.config, connection: conn, protocols: [...this.protocols] })
    const session: P2PSession = { conn, peer, connected: false, errorReported: false }
    this.sessions.add(session)
    // A Connection emits 'close' exactly once; on() spares the once() wrapper per connection.
    conn.on('close', (err?: Error) => this.onConnectionClosed(session, info, err))
    peer.connect().then(
      () => {
        if (this.sessions.get(peer.id) === session && !peer.closed && this.state === 'started') this.announceConnected(session)
      },
      (err: unknown) => this.onBindFailed(session, err),
    )
  }

  /** Closes a connection the server will not keep; an RLPx remote is told `reason`. */
  private refuse(conn: Connection, info: ConnectionInfo, reason: DisconnectReason, detail?: string): void {
    const text = describeDisconnect(reason, detail)
    log('closing connection %s to %s: %s', conn.id, info.peerId.slice(0, 8), text)
    conn.on('close', () => this.config.events.emit(Event.CONNECTION_CLOSED, info, text))
    const closing = conn.close(reason)
    this.refusedClosing.add(closing)
    const forget = (): void => void this.refusedClosing.delete(closing)
    // A failure to close surfaces in stop(), which awaits every refused connection.
    void closing.then(forget, forget)
  }

  private onBindFailed(session: P2PSession, err: unknown): void {
    if (err instanceof PeerDisconnectedError) {
      // The stream or connection went away during the handshake (remote closed it, duplicate, stop): not an error of the peer.
      log('%s: closed during the handshake: %s', session.peer.toString(), err.message)
      void session.peer.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'closed during the handshake')
      return
    }
    this.reportPeerError(session, err, 'ERR_PEER_P2P')
    if (err instanceof StatusMismatchError || err instanceof NoSharedVersionError) {
      // Another chain (network id, genesis, fork id), or no eth version in common, stays so: do not dial it again for a while.
      void session.peer.disconnect(DisconnectReason.SUBPROTOCOL_ERROR, `incompatible: ${err.message}`)
      this.ban(session.peer.id)
      return
    }
    void session.peer.disconnect(disconnectReasonFor(err), describeError(err))
  }

  private onConnectionClosed(session: P2PSession, info: ConnectionInfo, err: Error | undefined): void {
    const registered = this.sessions.remove(session)
    const reason = session.peer.disconnectReason ?? (err === undefined ? 'connection closed' : describeError(err))
    log('connection %s to %s closed: %s', info.id, session.peer.toString(), reason)
    this.config.events.emit(Event.CONNECTION_CLOSED, info, reason)
    if (session.connected) this.config.events.emit(Event.PEER_DISCONNECTED, session.peer, reason)
    // A remote that sent Disconnect (too many peers, useless peer, ...) would say it again if redialed at once.
    if (registered && err instanceof RlpxRemoteDisconnectError && this.state === 'started') this.scheduler.dialFailed(session.peer.id)
    if (registered) this.scheduler.refill()
  }
}
