import { bytesToUnprefixedHex, equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { ClientError, PeerError, ServerError } from '../../errors'
import { Event, type ConnectionInfo } from '../../types'
import { P2PPeer } from '../peer/p2ppeer'
import { UnconnectedPeer } from '../peer/unconnectedpeer'
import { PeerDisconnectedError, StatusMismatchError } from '../protocol/errors'
import { StreamEthProtocol } from '../protocol/streamethprotocol'
import {
  type Connection,
  type HostPort,
  type MplexStream,
  Registrar,
  Transport,
  type TransportListener,
  Upgrader,
} from '../../../p2p'

import { formatEnode } from './enode'
import { BanList, InboundIds, addressKey, createGater } from './p2p-admission'
import { type P2PSession, SessionTable } from './p2p-connections'
import { Dialer } from './p2p-dialer'
import { Discovery } from './p2p-discovery'
import { LegacyRlpxPeerError, describeError as describe, isLegacyRlpxFailure } from './p2p-legacy'
import { CANDIDATES_PER_SLOT } from './rlpxserver'
import { Server, type ServerOptions } from './server'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { ClientDpt } from './dpt'

const log = debug('client:p2p')

const NODE_ID_HEX = /^[0-9a-f]{128}$/

/**
 * The modular-stack server: discv4 discovery (the client's DPT, set up as
 * RlpxServer does) feeding `transport.dial`, a TransportListener for inbound
 * connections, an Upgrader (ECIES with the node key, then mplex), and a
 * Registrar holding the StreamEthProtocol handlers. Each upgraded connection
 * becomes a P2PPeer; once its ETH Status handshake is done the server emits
 * PEER_CONNECTED, exactly as RlpxServer does for an RLPx session.
 *
 * Policy: at most `maxPeers` connections (dials in progress and inbound
 * handshakes count; inbound sockets beyond it are refused at accept with a
 * logged reason); one connection per remote id (simultaneous dials: the
 * connection dialed by the node with the smaller id survives, see
 * p2p-connections.ts); never dials itself (our id is derived from our
 * public key); banned ids are refused at dial and right after the ECIES
 * handshake (the first point the remote id is known); a node that turns out
 * to speak legacy RLPx is reported (PEER_ERROR) and banned, so it is not
 * redialed in a loop; peers on another chain are banned the same way.
 */
export class P2PServer extends Server {
  readonly name = 'p2p' as const
  readonly registrar: Registrar
  readonly upgrader: Upgrader
  readonly transport: Transport
  listener: TransportListener | null = null
  readonly stats = { dialFailures: 0, inboundRefused: 0, legacyRefused: 0 }
  private readonly dialer: Dialer
  private discovery: Discovery | null = null
  private tcpPort = 0
  private readonly sessions = new SessionTable()
  private readonly refusedClosing = new Set<Promise<void>>()
  private readonly bans = new BanList()
  private readonly inboundIds = new InboundIds()
  private transition: Promise<void> | undefined

  constructor(opts: ServerOptions) {
    super(opts)
    this.registrar = new Registrar()
    this.upgrader = new Upgrader({
      privateKey: this.key,
      registrar: this.registrar,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      gater: createGater({
        localId: this.config.nodeId,
        accepting: () => this.state === 'started',
        slotsUsed: () => this.slotsUsed(),
        maxPeers: () => this.config.maxPeers,
        bans: this.bans,
        sessions: this.sessions,
        inboundIds: this.inboundIds,
        onRefused: () => this.stats.inboundRefused++,
      }),
    })
    this.transport = new Transport({ upgrader: this.upgrader, dialTimeoutMs: this.config.dialTimeoutMs })
    this.dialer = new Dialer({
      transport: this.transport,
      maxCandidates: () => this.config.maxPeers * CANDIDATES_PER_SLOT,
      onConnection: (conn) => this.onConnection(conn),
      onFailure: (id, addr, err) => this.onDialFailed(id, addr, err),
    })
  }

  /** Outbound dials started since creation (each dial of a discovered node counts once). */
  get dialAttempts(): number {
    return this.dialer.attempts
  }

  get dpt(): ClientDpt | null {
    return this.discovery?.dpt ?? null
  }

  /** Our enode URL. Without discovery the discport is the TCP port (an enode URL cannot say "none"). */
  get url(): string {
    return formatEnode(this.config.nodeId, this.config.extIP, this.tcpPort, this.discovery?.udpPort ?? this.tcpPort)
  }

  /** Peers with a completed Status handshake. */
  get peers(): P2PPeer[] {
    return this.sessions.all().filter((s) => s.connected).map((s) => s.peer)
  }

  /** Every live connection (handshaking or connected). */
  get connections(): Connection[] {
    return this.sessions.all().map((s) => s.conn)
  }

  async start(): Promise<void> {
    if (this.state === 'started') return
    if (this.transition !== undefined) await this.transition.catch(() => undefined)
    if (this.started) return
    this.state = 'starting'
    this.transition = this.doStart()
    try {
      await this.transition
    } finally {
      this.transition = undefined
    }
  }

  async stop(): Promise<void> {
    if (this.transition !== undefined) await this.transition.catch(() => undefined)
    if (this.state === 'stopped') return
    this.state = 'stopping'
    this.transition = this.release()
    try {
      await this.transition
    } finally {
      this.transition = undefined
      this.state = 'stopped'
    }
  }

  async bootstrap(): Promise<void> {
    if (this.state !== 'started') throw new ServerError('ERR_SERVER_STATE', 'bootstrap() needs a started server')
    for (const node of this.config.bootnodes) {
      if (equalsBytes(node.id, this.config.nodeId)) continue
      const info: PeerInfo = { id: node.id, address: node.ip, udpPort: node.udpPort, tcpPort: node.tcpPort }
      if (this.discovery !== null) {
        log('bootstrapping discovery from %s:%d', node.ip, node.udpPort)
        // A failed bootstrap ping is reported on DPT's 'error' event (logged).
        await this.discovery.dpt.bootstrap(info)
      } else {
        this.maybeDial(info)
      }
    }
  }

  ban(peerId: string, maxAgeMs = this.config.banTimeMs): void {
    this.bans.ban(peerId, maxAgeMs)
    if (NODE_ID_HEX.test(peerId)) this.discovery?.dpt.banPeer(unprefixedHexToBytes(peerId), maxAgeMs)
    this.dialer.forget(peerId, new PeerError('ERR_PEER_BANNED', `peer ${peerId.slice(0, 8)} banned`))
    void this.sessions.get(peerId)?.peer.disconnect('banned')
  }

  isBanned(peerId: string): boolean {
    return this.bans.isBanned(peerId)
  }

  private ethProtocols(): StreamEthProtocol[] {
    return [...this.protocols].filter((p): p is StreamEthProtocol => p instanceof StreamEthProtocol)
  }

  private async doStart(): Promise<void> {
    try {
      const eth = this.ethProtocols()
      if (eth.length === 0) throw new ServerError('ERR_SERVER_NO_PROTOCOLS', 'no StreamEthProtocol to offer; call addProtocols() first')
      for (const p of eth) p.register(this.registrar, this.onEthStream)
      const listener = this.transport.createListener()
      this.listener = listener
      listener.on('connection', this.onInbound)
      listener.on('refused', this.onRefused)
      listener.on('error', this.onListenerError)
      await listener.listen({ host: this.config.bindAddress, port: this.config.port })
      this.tcpPort = listener.address().port
      if (this.config.discV4) {
        this.discovery = await Discovery.start({
          config: this.config,
          key: this.key,
          tcpPort: this.tcpPort,
          onPeer: (info) => this.onDiscovered(info),
          onSocketError: (err) => this.config.events.emit(Event.SERVER_ERROR, err, this),
        })
      }
    } catch (err) {
      await this.release()
      this.state = 'stopped'
      if (err instanceof ServerError) throw err
      throw new ServerError('ERR_SERVER_START', `P2P server failed to start: ${describe(err)}`, { cause: err })
    }
    this.state = 'started'
    log('listening: %s', this.url)
    this.config.events.emit(Event.SERVER_LISTENING, { transport: 'p2p', url: this.url })
    await this.bootstrap()
  }

  private readonly onInbound = (conn: Connection): void => {
    this.inboundIds.take(conn.remoteAddr)
    this.onConnection(conn)
  }

  private readonly onRefused = (err: Error & { remoteAddr?: HostPort }): void => {
    if (err.remoteAddr !== undefined) this.inboundIds.take(err.remoteAddr)
    log('%s', err.message)
  }

  private readonly onListenerError = (err: Error & { remoteAddr?: HostPort }): void => {
    if ((err as { code?: unknown }).code === 'ERR_TRANSPORT_LISTEN_FAILED') {
      this.config.events.emit(Event.SERVER_ERROR, err, this)
      return
    }
    const id = err.remoteAddr === undefined ? undefined : this.inboundIds.take(err.remoteAddr)
    if (id !== undefined && err.remoteAddr !== undefined && this.state === 'started' && isLegacyRlpxFailure(err)) {
      this.refuseLegacy(id, addressKey(err.remoteAddr), true, err)
      return
    }
    log('inbound upgrade failed: %s', describe(err))
  }

  private readonly onEthStream = (stream: MplexStream, conn: Connection): void => {
    const session = this.sessions.ofConnection(conn)
    if (session === undefined) {
      log('eth stream on unregistered connection %s: reset', conn.id)
      stream.reset()
      return
    }
    session.peer.acceptEthStream(stream)
  }

  private onDiscovered(info: PeerInfo): void {
    if (this.state !== 'started' || info.id === undefined) return
    // Our id comes from the public key (config.nodeId); a node that lists us must not make us dial ourselves.
    if (equalsBytes(info.id, this.config.nodeId)) return
    const id = bytesToUnprefixedHex(info.id)
    this.config.events.emit(Event.PEER_DISCOVERED, { id, address: `${info.address}:${info.tcpPort}`, transport: 'p2p' })
    this.maybeDial(info)
  }

  /** Dials a discovered node if it is new, allowed and a slot is free; queues it when slots are full. */
  private maybeDial(info: PeerInfo): void {
    if (info.id === undefined || info.address === undefined || info.tcpPort === undefined || info.tcpPort === null) return
    if (equalsBytes(info.id, this.config.nodeId)) return
    const id = bytesToUnprefixedHex(info.id)
    if (this.isBanned(id) || this.dialer.isDialing(id) || this.sessions.get(id) !== undefined || this.dialer.backedOff(id)) return
    if (this.slotsUsed() >= this.config.maxPeers) {
      this.dialer.enqueue(info)
      return
    }
    this.dialer.dial(id, info.id, { host: info.address, port: info.tcpPort })
  }

  private onDialFailed(id: string, addr: HostPort, err: unknown): void {
    this.stats.dialFailures++
    if (this.state !== 'started') return
    const address = `${addr.host}:${addr.port}`
    if (isLegacyRlpxFailure(err)) {
      this.refuseLegacy(id, address, false, err)
      return
    }
    log('dial %s at %s failed: %s', id.slice(0, 8), address, describe(err))
    this.dialer.noteFailure(id)
    this.refill()
  }

  /** A node that answered with devp2p RLPx: one PEER_ERROR saying so, then banned (no redial loop). */
  private refuseLegacy(id: string, address: string, inbound: boolean, err: unknown): void {
    if (this.isBanned(id)) {
      log('legacy RLPx node %s at %s again (already banned)', id.slice(0, 8), address)
      return
    }
    this.stats.legacyRefused++
    const banMs = this.config.banTimeMs
    this.ban(id, banMs)
    const error = new LegacyRlpxPeerError(id, address, banMs, { cause: err })
    log('%s', error.message)
    this.config.events.emit(Event.PEER_ERROR, error, new UnconnectedPeer({ config: this.config, id, address, inbound }))
    this.refill()
  }

  private onConnection(conn: Connection): void {
    const id = bytesToUnprefixedHex(conn.remoteId)
    const info: ConnectionInfo = {
      id: conn.id,
      peerId: id,
      address: `${conn.remoteAddr.host}:${conn.remoteAddr.port}`,
      direction: conn.direction,
    }
    this.config.events.emit(Event.CONNECTION_OPENED, info)
    const admission = this.sessions.admit(this.config.nodeId, id, conn)
    let refusal: string | undefined
    if (this.state !== 'started') refusal = 'server stopping'
    else if (this.isBanned(id)) refusal = 'banned'
    else if (admission.action === 'refuse') refusal = admission.reason
    else if (admission.action === 'add' && this.sessions.size >= this.config.maxPeers) refusal = 'too many peers'
    if (refusal !== undefined) {
      this.refuse(conn, info, refusal)
      return
    }
    if (admission.action === 'replace') {
      log('%s: duplicate connection, keeping %s (%s)', admission.existing.peer.toString(), conn.id, conn.direction)
      void admission.existing.peer.disconnect(admission.reason)
    }
    const peer = new P2PPeer({ config: this.config, connection: conn, protocols: [...this.protocols] })
    const session: P2PSession = { conn, peer, connected: false, errorReported: false }
    this.sessions.add(session)
    conn.once('close', (err?: Error) => this.onConnectionClosed(session, info, err))
    peer.connect().then(
      () => this.onBound(session),
      (err: unknown) => this.onBindFailed(session, err),
    )
  }

  private refuse(conn: Connection, info: ConnectionInfo, reason: string): void {
    log('closing connection %s to %s: %s', conn.id, info.peerId.slice(0, 8), reason)
    conn.once('close', () => this.config.events.emit(Event.CONNECTION_CLOSED, info, reason))
    const closing = conn.close().catch((err: unknown) => log('closing %s failed: %s', conn.id, describe(err)))
    this.refusedClosing.add(closing)
    void closing.then(() => this.refusedClosing.delete(closing))
  }

  private onBound(session: P2PSession): void {
    if (this.sessions.get(session.peer.id) !== session || session.peer.closed || this.state !== 'started') return
    session.connected = true
    log('peer connected: %s (%s, eth/%d)', session.peer.toString(), session.peer.inbound ? 'inbound' : 'outbound', session.peer.eth?.version)
    this.config.events.emit(Event.PEER_CONNECTED, session.peer)
  }

  private onBindFailed(session: P2PSession, err: unknown): void {
    const error = err instanceof Error ? err : new PeerError('ERR_PEER_P2P', `non-error thrown: ${String(err)}`)
    if (error instanceof PeerDisconnectedError) {
      // The stream or connection went away during the handshake (remote closed it, duplicate, stop): not an error of the peer.
      log('%s: closed during the handshake: %s', session.peer.toString(), error.message)
      void session.peer.disconnect('closed during the handshake')
      return
    }
    this.reportError(session, error)
    if (error instanceof StatusMismatchError) {
      // Another chain (network id, genesis, fork id) stays another chain: do not dial it again for a while.
      void session.peer.disconnect(`incompatible: ${error.message}`)
      this.ban(session.peer.id)
      return
    }
    void session.peer.disconnect('protocol error')
  }

  private onConnectionClosed(session: P2PSession, info: ConnectionInfo, err: Error | undefined): void {
    const registered = this.sessions.remove(session)
    const reason = session.peer.disconnectReason ?? (err === undefined ? 'connection closed' : describe(err))
    log('connection %s to %s closed: %s', info.id, session.peer.toString(), reason)
    this.config.events.emit(Event.CONNECTION_CLOSED, info, reason)
    if (session.connected) this.config.events.emit(Event.PEER_DISCONNECTED, session.peer, reason)
    if (registered) this.refill()
  }

  /** One PEER_ERROR per session (the root cause); follow-up errors are logged. */
  private reportError(session: P2PSession, err: Error): void {
    if (session.errorReported || this.state !== 'started') {
      log('%s: %s', session.peer.toString(), err.message)
      return
    }
    session.errorReported = true
    const error = err instanceof ClientError ? err : new PeerError('ERR_PEER_P2P', `${session.peer.toString()}: ${describe(err)}`, { cause: err })
    log('peer error %s: %s', session.peer.toString(), error.message)
    this.config.events.emit(Event.PEER_ERROR, error, session.peer)
  }

  /** Slots taken: sessions, dials in progress, inbound sockets still in their handshake. */
  private slotsUsed(): number {
    return this.sessions.size + this.dialer.size + (this.listener?.pendingHandshakes ?? 0)
  }

  /** Dials queued candidates into freed slots. */
  private refill(): void {
    while (this.state === 'started' && this.slotsUsed() < this.config.maxPeers) {
      const next = this.dialer.nextCandidate()
      if (next === undefined) return
      this.maybeDial(next)
    }
  }

  /** Closes everything start() opened, whatever stage it reached. */
  private async release(): Promise<void> {
    await this.dialer.abortAll(new ServerError('ERR_SERVER_STOPPING', 'server stopping'))
    const closing: Promise<unknown>[] = this.sessions.all().map((s) => s.peer.disconnect('server stopping'))
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
    await this.discovery?.close()
    this.discovery = null
    for (const p of this.ethProtocols()) p.unregister(this.registrar)
    this.sessions.clear()
    this.inboundIds.clear()
    await handlesClosed()
  }
}

/**
 * Resolves after the event loop's close phase: 'close' events fire before
 * libuv has released the handle, and a stopped server should not even be
 * listed by process.getActiveResourcesInfo().
 */
function handlesClosed(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}
