import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

import { DISCONNECT_REASON } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, compareBytes, equalsBytes, unprefixedHexToBytes, utf8ToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { ClientError, PeerError, ServerError } from '../../errors'
import { Event } from '../../types'
import { RlpxPeer } from '../peer/rlpxpeer'
import { EthProtocol } from '../protocol/ethprotocol'

import { withClientEth } from './devp2p'
import { ClientDpt } from './dpt'
import { formatEnode } from './enode'
import { RlpxSessions, type Session } from './rlpxsessions'
import { Server, type ServerOptions } from './server'

import type { Capabilities, PeerInfo } from '@ethereumjs/devp2p'
import type { Socket as UdpSocket } from 'node:dgram'
import type { Server as NetServer, Socket } from 'node:net'

const log = debug('client:rlpx')
const logDpt = debug('client:rlpx:dpt')

/** Client id sent in the devp2p Hello. */
export const RLPX_CLIENT_ID = 'ethp2p/v0.1.0'
/** After our Disconnect on shutdown, how long a remote gets to close its end before the socket is destroyed. */
export const DISCONNECT_GRACE_MS = 1_000
/** Discovered peers remembered for later dialing when every slot is taken, per peer slot. */
export const CANDIDATES_PER_SLOT = 2

/** Our view of one RLPx session once Hello is done. */
interface Bound {
  session: Session
  peer: RlpxPeer
  /** PEER_CONNECTED was emitted (Status handshake done). */
  connected: boolean
  /** PEER_ERROR was emitted; later errors of this session are only logged. */
  errorReported: boolean
}

/**
 * The legacy networking path: discv4 discovery (devp2p DPT) and RLPx
 * sessions (devp2p ECIES/Hello/framing, see RlpxSessions), with eth bound
 * through EthProtocol. Discovered nodes are dialed up to `maxPeers`; a peer
 * is announced (PEER_CONNECTED) once its Status handshake succeeded, and a
 * peer on another chain ends in PEER_ERROR saying which field differs.
 */
export class RlpxServer extends Server {
  readonly name = 'rlpx' as const
  dpt: ClientDpt | null = null
  private tcp: NetServer | null = null
  private udp: UdpSocket | null = null
  private sessions: RlpxSessions | null = null
  private tcpPort = 0
  private udpPort = 0
  private readonly bound = new Map<Session, Bound>()
  /** Discovered peers waiting for a free slot, oldest first. */
  private candidates: PeerInfo[] = []
  private readonly bans = new Map<string, number>()
  /** Dials postponed by the lower-id-dials-first rule, by peer id. */
  private readonly deferred = new Map<string, NodeJS.Timeout>()
  private transition: Promise<void> | undefined

  constructor(opts: ServerOptions) {
    super(opts)
  }

  get url(): string {
    return formatEnode(this.config.nodeId, this.config.extIP, this.tcpPort, this.udpPort)
  }

  /** Peers whose Status handshake is done. */
  get peers(): RlpxPeer[] {
    return [...this.bound.values()].filter((b) => b.connected).map((b) => b.peer)
  }

  async start(): Promise<void> {
    if (this.state === 'started') return
    // Wait out a start/stop in progress; its failure is reported to its own caller.
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
    // Wait out a start/stop in progress; its failure is reported to its own caller.
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
      const info = { id: node.id, address: node.ip, udpPort: node.udpPort, tcpPort: node.tcpPort }
      if (this.dpt !== null && node.udpPort !== 0) {
        log('bootstrapping discovery from %s:%d', node.ip, node.udpPort)
        // A failed bootstrap ping is reported on DPT's 'error' event (logged).
        await this.dpt.bootstrap(info)
      } else {
        this.maybeDial(info)
      }
    }
  }

  ban(peerId: string, maxAgeMs = this.config.banTimeMs): void {
    this.bans.set(peerId, Date.now() + maxAgeMs)
    this.dpt?.banPeer(unprefixedHexToBytes(peerId), maxAgeMs)
    this.candidates = this.candidates.filter((c) => c.id === undefined || bytesToUnprefixedHex(c.id) !== peerId)
    for (const b of this.bound.values()) if (b.peer.id === peerId) void b.peer.disconnect('banned')
  }

  isBanned(peerId: string): boolean {
    const until = this.bans.get(peerId)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.bans.delete(peerId)
    return false
  }

  private async doStart(): Promise<void> {
    try {
      await this.listenTcp()
      if (this.config.discV4) await this.startDiscovery()
      this.sessions = this.createSessions()
    } catch (err) {
      await this.release()
      this.state = 'stopped'
      throw new ServerError('ERR_SERVER_START', `RLPx server failed to start: ${(err as Error).message}`, { cause: err })
    }
    this.state = 'started'
    log('listening: %s', this.url)
    this.config.events.emit(Event.SERVER_LISTENING, { transport: 'rlpx', url: this.url })
    await this.bootstrap()
  }

  private async listenTcp(): Promise<void> {
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
    this.tcpPort = addr.port
    tcp.on('error', (err) => this.config.events.emit(Event.SERVER_ERROR, err, this))
    tcp.on('connection', (socket) => this.onInbound(socket))
  }

  private async startDiscovery(): Promise<void> {
    const udp = createSocket({ type: 'udp4' })
    this.udp = udp
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(this.config.discPort, this.config.bindAddress, () => {
        udp.off('error', reject)
        resolve()
      })
    })
    this.udpPort = udp.address().port
    udp.on('error', (err) => this.config.events.emit(Event.SERVER_ERROR, err, this))
    // DPT gets the bound socket, so the endpoint it announces carries the real ports.
    const dpt = new ClientDpt(this.key, {
      endpoint: { address: this.config.extIP, udpPort: this.udpPort, tcpPort: this.tcpPort },
      createSocket: () => udp,
      timeout: this.config.discoveryTimeoutMs,
      refreshInterval: this.config.discoveryRefreshMs,
      shouldFindNeighbours: true,
      shouldGetDnsPeers: false,
      common: this.config.common,
    })
    dpt.events.on('peer:new', (info) => this.onDiscovered(info))
    // Discovery errors (unanswered pings, garbage datagrams) are routine on a public network.
    dpt.events.on('error', (err) => logDpt('%s', err.message))
    this.dpt = dpt
  }

  private createSessions(): RlpxSessions {
    const capabilities: Capabilities[] = []
    for (const p of this.protocols) if (p instanceof EthProtocol) capabilities.push(...p.capabilities)
    if (capabilities.length === 0) {
      throw new ServerError('ERR_SERVER_NO_PROTOCOLS', 'no RLPx capability to offer; call addProtocols() first')
    }
    const sessions = new RlpxSessions({
      privateKey: this.key,
      nodeId: this.config.nodeId,
      clientId: utf8ToBytes(RLPX_CLIENT_ID),
      capabilities: withClientEth(capabilities),
      common: this.config.common,
      listenPort: this.tcpPort,
      dialTimeoutMs: this.config.dialTimeoutMs,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      pingTimeoutMs: this.config.pingTimeoutMs,
    })
    sessions.on('up', (s) => this.onSessionUp(s))
    sessions.on('down', (s, reason) => this.onSessionDown(s, reason))
    sessions.on('error', (s, err) => {
      const b = this.bound.get(s)
      if (b !== undefined) this.reportError(b, err)
    })
    return sessions
  }

  private onInbound(socket: Socket): void {
    const sessions = this.sessions
    if (this.state !== 'started' || sessions === null) {
      socket.destroy()
      return
    }
    if (sessions.size >= this.config.maxPeers) {
      log('refusing inbound %s:%d: too many peers', socket.remoteAddress, socket.remotePort)
      socket.destroy()
      return
    }
    sessions.accept(socket)
  }

  private onDiscovered(info: PeerInfo): void {
    if (this.state !== 'started' || info.id === undefined || equalsBytes(info.id, this.config.nodeId)) return
    const id = bytesToUnprefixedHex(info.id)
    this.config.events.emit(Event.PEER_DISCOVERED, { id, address: `${info.address}:${info.tcpPort}`, transport: 'rlpx' })
    // Discovery is mutual (each side pings the other), so both would dial at once; the lower id goes first.
    if (compareBytes(this.config.nodeId, info.id) < 0) this.maybeDial(info)
    else this.deferDial(id, info)
  }

  private deferDial(id: string, info: PeerInfo): void {
    if (this.deferred.has(id)) return
    const timer = setTimeout(() => {
      this.deferred.delete(id)
      if (this.state === 'started') this.maybeDial(info)
    }, this.config.dialBackoffMs)
    this.deferred.set(id, timer)
  }

  /** Dials a peer if it is new, allowed, and a slot is free; queues it otherwise. */
  private maybeDial(info: PeerInfo): void {
    const sessions = this.sessions
    if (sessions === null || info.id === undefined || info.address === undefined || info.tcpPort == null) return
    const id = bytesToUnprefixedHex(info.id)
    if (this.isBanned(id) || sessions.has(id)) return
    if (sessions.size >= this.config.maxPeers) {
      const known = this.candidates.some((c) => c.id !== undefined && bytesToUnprefixedHex(c.id) === id)
      if (!known && this.candidates.length < this.config.maxPeers * CANDIDATES_PER_SLOT) this.candidates.push(info)
      return
    }
    log('dialing %s at %s:%d', id.slice(0, 8), info.address, info.tcpPort)
    sessions.dial(info.address, info.tcpPort, info.id)
  }

  private onSessionUp(session: Session): void {
    const id = session.id as string
    const devp2p = session.devp2p
    if (this.state !== 'started' || devp2p === undefined) return
    if (this.isBanned(id)) {
      log('refusing banned peer %s', id.slice(0, 8))
      this.sessions?.disconnect(session, DISCONNECT_REASON.USELESS_PEER)
      return
    }
    const peer = new RlpxPeer({
      config: this.config,
      rlpxPeer: devp2p,
      close: (reason) => this.sessions?.disconnect(session, reason),
      id,
      address: `${session.socket.remoteAddress}:${session.socket.remotePort}`,
      inbound: !session.outbound,
      protocols: [...this.protocols],
    })
    const b: Bound = { session, peer, connected: false, errorReported: false }
    this.bound.set(session, b)
    peer.connect().then(
      () => this.onBound(b),
      (err: unknown) => {
        this.reportError(b, asError(err))
        void peer.disconnect('protocol error')
      },
    )
  }

  private onBound(b: Bound): void {
    if (this.bound.get(b.session) !== b || b.session.closing) return
    b.connected = true
    log('peer connected: %s (%s, eth/%d)', b.peer.toString(), b.peer.inbound ? 'inbound' : 'outbound', b.peer.eth?.version)
    this.config.events.emit(Event.PEER_CONNECTED, b.peer)
  }

  private onSessionDown(session: Session, reason: string): void {
    const b = this.bound.get(session)
    if (b === undefined) return
    this.bound.delete(session)
    log('peer gone: %s (%s)', b.peer.toString(), reason)
    if (b.connected && this.state === 'started') this.config.events.emit(Event.PEER_DISCONNECTED, b.peer, reason)
    this.refill()
  }

  /** One PEER_ERROR per session (the root cause); follow-up errors of a failing session are logged. */
  private reportError(b: Bound, err: Error): void {
    if (b.errorReported || this.state !== 'started') {
      log('%s: %s', b.peer.toString(), err.message)
      return
    }
    b.errorReported = true
    const error = err instanceof ClientError ? err : new PeerError('ERR_PEER_RLPX', `${b.peer.toString()}: ${err.message}`, { cause: err })
    log('peer error %s: %s', b.peer.toString(), error.message)
    this.config.events.emit(Event.PEER_ERROR, error, b.peer)
  }

  /** Dials queued candidates into freed slots. */
  private refill(): void {
    while (this.state === 'started' && this.sessions !== null && this.sessions.size < this.config.maxPeers && this.candidates.length > 0) {
      this.maybeDial(this.candidates.shift() as PeerInfo)
    }
  }

  /** Closes everything start() opened, whatever stage it reached. */
  private async release(): Promise<void> {
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
    await this.closeDiscovery()
    for (const timer of this.deferred.values()) clearTimeout(timer)
    this.deferred.clear()
    this.candidates = []
    await handlesClosed()
  }

  private async closeDiscovery(): Promise<void> {
    const udp = this.udp
    const dpt = this.dpt
    this.udp = null
    this.dpt = null
    if (udp === null) return
    const closed = new Promise<void>((resolve) => udp.once('close', () => resolve()))
    if (dpt !== null) dpt.destroy() // clears its refresh interval and discovery timers, closes the socket
    else udp.close()
    await closed
  }
}

/**
 * Resolves after the event loop's close phase: 'close' events fire before
 * libuv has released the handle, and a stopped server should not even be
 * listed by process.getActiveResourcesInfo(). Two check phases bracket one
 * close phase.
 */
function handlesClosed(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new PeerError('ERR_PEER_RLPX', `non-error thrown: ${String(err)}`)
}
