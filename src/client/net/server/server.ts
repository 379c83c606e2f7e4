import { equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { DisconnectReason } from '../../../p2p'
import { ClientError, PeerError, ServerError, describeError } from '../../errors'
import { Event } from '../../types'

import { BanList } from '../banlist'
import { CANDIDATES_PER_SLOT, DialScheduler, type DialTarget } from './dialscheduler'
import { Discovery } from './discovery'
import { formatEnode } from './enode'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { Config } from '../../config'
import { type Peer, peerIdHex } from '../peer/peer'
import { UnconnectedPeer } from '../peer/unconnectedpeer'
import type { NoSharedVersionError } from '../protocol/errors'
import type { Protocol } from '../protocol/protocol'
import type { ClientDpt } from './rlpx/dpt'
import type { Enode } from './enode'

const log = debug('client:server')

const NODE_ID_HEX = /^[0-9a-f]{128}$/

export interface ServerOptions {
  config: Config
}

/** Counters a server keeps for statistics and diagnostics. */
export interface ServerStats {
  /** Outbound dials that failed (refused, unreachable, handshake error). */
  dialFailures: number
  /** Inbound connections refused at accept or right after the handshake (slots full, banned, duplicate). */
  inboundRefused: number
}

/** Lifecycle of a server; `stop()` from any state ends in 'stopped', and 'stopped' can start again. */
export type ServerState = 'stopped' | 'starting' | 'started' | 'stopping'

/** A remote refused before it had a session: its authenticated id (never an id it merely claimed) and address. */
export interface RefusedRemote {
  id: string
  /** 'host:port' we dialed or that dialed us. */
  address: string
  inbound: boolean
}

/** A remote's session as a server tracks it, from its transport handshake until it ends. */
export interface PeerSession<P extends Peer = Peer> {
  readonly peer: P
  /** PEER_CONNECTED was emitted (Status handshake done). */
  connected: boolean
  /** PEER_ERROR was emitted; later errors of this session are only logged. */
  errorReported: boolean
}

/**
 * Base of the client's networking servers (RlpxServer, P2PServer). A server
 * owns the listener and discovery, turns remote nodes into `Peer`s bound to
 * its protocols, and reports them on `config.events` (PEER_CONNECTED /
 * PEER_DISCONNECTED / PEER_ERROR).
 *
 * What both transports share lives here: the start/stop state machine
 * (idempotent, concurrent calls wait for the transition in progress), discv4
 * discovery, bootnodes, bans, dial scheduling and the maxPeers slot count,
 * the enode URL, and the one-PEER_ERROR-per-session rule. A subclass brings
 * its transport: `listen()`, `dial()`, `close()` and how it counts slots.
 */
export abstract class Server {
  readonly config: Config
  /** Node private key (from the config). */
  readonly key: Uint8Array
  readonly protocols = new Set<Protocol>()
  abstract readonly name: 'rlpx' | 'p2p'
  readonly stats: ServerStats = { dialFailures: 0, inboundRefused: 0 }
  protected state: ServerState = 'stopped'
  protected readonly bans = new BanList()
  protected readonly scheduler: DialScheduler
  private discovery: Discovery | null = null
  private tcpPort = 0
  private transition: Promise<void> | undefined

  constructor(opts: ServerOptions) {
    this.config = opts.config
    this.key = opts.config.key
    this.scheduler = new DialScheduler({
      localId: this.config.nodeId,
      maxCandidates: () => this.config.maxPeers * CANDIDATES_PER_SLOT,
      // Discovery is mutual: both ends learn of each other at once. A crossed dial costs both
      // ends a full handshake (ECIES, and Hello on RLPx) before the tie-break drops one;
      // letting the lower id dial first reached a full mesh sooner in bench/network.ts.
      yieldToLowerIdMs: this.config.dialBackoffMs,
      reconnectYieldMs: this.config.dialBackoffMs,
      redialBackoffMs: this.config.redialBackoffMs,
      maxConcurrentDials: this.config.maxConcurrentDials,
      dialsInProgress: () => this.dialsInProgress(),
      eligible: (id) => this.state === 'started' && !this.isBanned(id) && !this.isEngaged(id),
      hasFreeSlot: () => this.hasFreeSlot(),
      known: () => this.discovery?.dpt.getPeers() ?? [],
      dial: (target) => this.dial(target),
    })
  }

  get started(): boolean {
    return this.state === 'started'
  }

  /** The discovery table, while discovery runs. */
  get dpt(): ClientDpt | null {
    return this.discovery?.dpt ?? null
  }

  /** The node's enode URL; meaningful once started. `discport=0` says the node runs no discovery. */
  get url(): string {
    return formatEnode(this.config.nodeId, this.config.extIP, this.tcpPort, this.discovery?.udpPort ?? 0)
  }

  /** Outbound dials started since creation (each dial of a node counts once). */
  get dialAttempts(): number {
    return this.scheduler.attempts
  }

  /** Nodes waiting for a free peer slot, and our dials not yet through their handshake. */
  get dialQueue(): { queued: number; inProgress: number } {
    return { queued: this.scheduler.queued, inProgress: this.dialsInProgress() }
  }

  /**
   * Dials `enode` once a slot is free (admin_addPeer). Unlike geth's static
   * peers it is not redialed forever: discovery and the scheduler take over.
   */
  addPeer(node: Enode): void {
    if (this.state !== 'started') throw new ServerError('ERR_SERVER_STATE', 'addPeer() needs a started server')
    this.scheduler.offer(peerInfoOf(node), false)
  }

  /** Protocols offered to every peer; must be added before start(). */
  addProtocols(protocols: Protocol[]): void {
    if (this.state !== 'stopped') throw new ServerError('ERR_SERVER_STATE', 'addProtocols() must be called before start()')
    for (const p of protocols) this.protocols.add(p)
  }

  /** Listens, starts discovery, announces SERVER_LISTENING and bootstraps. Idempotent. */
  async start(): Promise<void> {
    if (this.state === 'started') return
    // Wait out a start/stop in progress; its failure is reported to its own caller.
    if (this.transition !== undefined) await this.transition.catch(() => undefined)
    if (this.started) return
    this.state = 'starting'
    this.transition = this.runStart()
    try {
      await this.transition
    } finally {
      this.transition = undefined
    }
  }

  /** Idempotent: releases every socket, timer and listener the server opened. */
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

  /** (Re)contacts the configured bootnodes: through discovery where both ends run it, else by dialing. */
  async bootstrap(): Promise<void> {
    if (this.state !== 'started') throw new ServerError('ERR_SERVER_STATE', 'bootstrap() needs a started server')
    for (const node of this.config.bootnodes) {
      if (equalsBytes(node.id, this.config.nodeId)) continue
      const info = peerInfoOf(node)
      if (this.discovery !== null && node.udpPort !== 0) {
        log('%s: bootstrapping discovery from %s:%d', this.name, node.ip, node.udpPort)
        // A failed bootstrap ping is reported on DPT's 'error' event (logged by Discovery).
        await this.discovery.dpt.bootstrap(info)
      } else {
        this.scheduler.offer(info, false)
      }
    }
  }

  /**
   * Dials nodes remembered from an earlier run (a dataDir's node table), best first, as
   * bootnodes without discovery are dialed; those with a discovery port are also pinged into
   * the discovery table, so discovery has a start even if no bootnode answers.
   */
  dialKnown(nodes: readonly PeerInfo[]): void {
    if (this.state !== 'started') throw new ServerError('ERR_SERVER_STATE', 'dialKnown() needs a started server')
    for (const info of nodes) {
      if (info.id === undefined || equalsBytes(info.id, this.config.nodeId)) continue
      this.scheduler.offer(info, false)
      if (this.discovery !== null && info.udpPort) this.discovery.dpt.addPeer(info).catch((err: Error) => log('%s: known node %s: %s', this.name, info.address, err.message))
    }
  }

  /**
   * Disconnects the peer (if connected) with `reason`, cancels dials to it,
   * and refuses it for `maxAgeMs`, discovery included. `peerId` is always an
   * authenticated id (a session's ECIES key, see docs/RELIABILITY.md), never
   * one a remote merely claimed. The default reason suits a ban by the
   * operator; the pool passes SUBPROTOCOL_ERROR for a protocol violation.
   */
  ban(peerId: string, maxAgeMs = this.config.banTimeMs, reason: DisconnectReason = DisconnectReason.USELESS_PEER): void {
    this.bans.ban(peerId, maxAgeMs)
    if (NODE_ID_HEX.test(peerId)) this.discovery?.dpt.banPeer(unprefixedHexToBytes(peerId), maxAgeMs)
    this.scheduler.forget(peerId)
    this.dropBanned(peerId, reason)
  }

  isBanned(peerId: string): boolean {
    return this.bans.isBanned(peerId)
  }

  /** Binds the transport's listener (protocols checked first); resolves with the bound TCP port. */
  protected abstract listen(): Promise<number>

  /** Closes what listen() and the sessions opened; the base closes discovery afterwards. */
  protected abstract close(): Promise<void>

  /** Connects to `target`; a failure is reported back through `scheduler.dialFailed` and a refill. */
  protected abstract dial(target: DialTarget): void

  /** True while a session or a dial with `id` exists (as far as the id is known). */
  protected abstract isEngaged(id: string): boolean

  /** Our dials not yet through their handshake. */
  protected abstract dialsInProgress(): number

  /** Peer slots taken: sessions, dials in progress and inbound handshakes. */
  protected abstract slotsUsed(): number

  /** Ends the session with (telling it `reason`), and any dial to, a peer that was just banned. */
  protected abstract dropBanned(peerId: string, reason: DisconnectReason): void

  protected hasFreeSlot(): boolean {
    return this.slotsUsed() < this.config.maxPeers
  }

  /** Marks the session connected and announces its peer (PEER_CONNECTED). */
  protected announceConnected(session: PeerSession): void {
    session.connected = true
    const { peer } = session
    log('%s: peer connected: %s (%s, eth/%d)', this.name, peer.toString(), peer.inbound ? 'inbound' : 'outbound', peer.eth?.version)
    this.config.events.emit(Event.PEER_CONNECTED, peer)
  }

  /**
   * One PEER_ERROR per session, for its root cause; follow-up errors of a
   * failing session (and anything while stopping) are logged. A non-client
   * error is wrapped as `code` with the peer in its message.
   */
  protected reportPeerError(session: PeerSession, err: unknown, code: `ERR_PEER_${string}`): void {
    const { peer } = session
    if (session.errorReported || this.state !== 'started') {
      log('%s: %s: %s', this.name, peer.toString(), describeError(err))
      return
    }
    session.errorReported = true
    const error = err instanceof ClientError ? err : new PeerError(code, `${peer.toString()}: ${describeError(err)}`, { cause: err })
    log('%s: peer error %s: %s', this.name, peer.toString(), error.message)
    this.config.events.emit(Event.PEER_ERROR, error, peer)
  }

  /** One PEER_ERROR for a remote that never got a session (an UnconnectedPeer stands in for it). */
  protected reportRefusedRemote(err: ClientError, remote: RefusedRemote): void {
    log('%s: refused %s %s at %s: %s', this.name, remote.inbound ? 'inbound' : 'dial to', remote.id.slice(0, 8), remote.address, err.message)
    this.config.events.emit(Event.PEER_ERROR, err, new UnconnectedPeer({ config: this.config, ...remote, transport: this.name }))
  }

  /**
   * A remote whose Hello shares no eth version with ours, whichever side
   * dialed: reported once under its authenticated id and banned, since
   * redialing it could only fail the same way.
   */
  protected refuseIncompatible(err: NoSharedVersionError, remote: RefusedRemote): void {
    if (this.isBanned(remote.id)) return
    this.ban(remote.id)
    this.reportRefusedRemote(err, remote)
    this.scheduler.refill()
  }

  private async runStart(): Promise<void> {
    try {
      this.tcpPort = await this.listen()
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
      throw new ServerError('ERR_SERVER_START', `${this.name} server failed to start: ${describeError(err)}`, { cause: err })
    }
    this.state = 'started'
    log('%s: listening: %s', this.name, this.url)
    this.config.events.emit(Event.SERVER_LISTENING, { transport: this.name, url: this.url })
    await this.bootstrap()
  }

  private onDiscovered(info: PeerInfo): void {
    // Our id comes from the public key (config.nodeId): a node that lists us must not make us dial ourselves.
    if (this.state !== 'started' || info.id === undefined || equalsBytes(info.id, this.config.nodeId)) return
    const id = peerIdHex(info.id)
    this.config.events.emit(Event.PEER_DISCOVERED, { id, address: `${info.address}:${info.tcpPort}`, udpPort: info.udpPort ?? 0, transport: this.name })
    this.scheduler.offer(info, true)
  }

  /** Closes everything start() opened, whatever stage it reached. */
  private async release(): Promise<void> {
    this.scheduler.clear()
    await this.close()
    await this.discovery?.close()
    this.discovery = null
    this.tcpPort = 0
    await handlesClosed()
  }
}

/** An enode as devp2p's discovery and the dial scheduler take it. */
function peerInfoOf(node: Enode): PeerInfo {
  return { id: node.id, address: node.ip, udpPort: node.udpPort, tcpPort: node.tcpPort }
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
