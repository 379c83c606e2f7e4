import { EventEmitter } from 'node:events'
import { Socket } from 'node:net'

import { compareBytes, equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { DisconnectReason } from '../../../../p2p'
import { PeerError, describeError } from '../../../errors'
import { describeDisconnect } from '../../disconnect'
import { peerIdHex } from '../../peer/peer'

import { AuthenticatedPeer, authenticatedRemoteId, sendDisconnect } from './devp2p'

import type { Capabilities } from '@ethereumjs/devp2p'
import type { HelloIdentityError } from './identity'
import type { Common } from '@ethereumjs/common'

const log = debug('client:rlpx:sessions')

export interface RlpxSessionsOptions {
  privateKey: Uint8Array
  nodeId: Uint8Array
  clientId: Uint8Array
  capabilities: Capabilities[]
  common: Common
  /** Our TCP port, announced in Hello. */
  listenPort: number
  dialTimeoutMs: number
  /** From socket connect to completed Hello. */
  handshakeTimeoutMs: number
  /** devp2p keep-alive: a Ping unanswered this long ends the session. */
  pingTimeoutMs: number
}

/** One TCP connection and the devp2p session on it. */
export interface Session {
  readonly socket: Socket
  readonly outbound: boolean
  /** The devp2p session, from the socket's connect on (dials) or accept. */
  readonly devp2p?: AuthenticatedPeer
  /**
   * Hex id of the remote: the key we dialed, or for an accepted connection
   * the key its ECIES auth authenticated, set once Hello named that same key
   * (see ./identity.ts). Never taken from the Hello alone.
   */
  id?: string
  /** Hello completed and the session was reported 'up'. */
  up: boolean
  /** We initiated the close; later socket errors are expected. */
  closing: boolean
  /** devp2p Disconnect reason of the session's end: ours when `closing`, else the remote's (undefined: no Disconnect). */
  readonly disconnectReason?: number
  /** Why we ended the session, beyond its reason code (ours only). */
  readonly disconnectDetail?: string
  /** The remote's Hello named another id than its authenticated key; the session was refused. */
  readonly identityError?: HelloIdentityError
}

interface MutableSession extends Session {
  devp2p?: AuthenticatedPeer
  timer?: NodeJS.Timeout
  disconnectReason?: number
  disconnectDetail?: string
  identityError?: HelloIdentityError
}

export interface RlpxSessionsEvents {
  /** Hello done with a new remote id (duplicates and self-dials are resolved before this). */
  up: [session: Session]
  /** An 'up' session's socket closed. */
  down: [session: Session, reason: string]
  /**
   * A session's socket closed before Hello completed: a failed dial or
   * inbound handshake (`closing` tells whether we ended it ourselves,
   * `identityError` whether its Hello was refused).
   */
  aborted: [session: Session]
  /** devp2p reported an error on an 'up' session. */
  error: [session: Session, error: Error]
}

/**
 * Every RLPx connection of a server: owns the TCP sockets (accepted and
 * dialed), runs @ethereumjs/devp2p's session (ECIES, Hello, framing) on each,
 * enforces the dial and handshake deadlines, keeps one session per remote id
 * (deterministic tie-break), and on shutdown closes every socket and waits
 * until each one is gone. devp2p's `RLPx` class is not used: it creates its
 * sockets and timers privately and cannot guarantee any of this.
 */
export class RlpxSessions extends EventEmitter<RlpxSessionsEvents> {
  private readonly opts: RlpxSessionsOptions
  private readonly sessions = new Set<MutableSession>()

  constructor(opts: RlpxSessionsOptions) {
    super()
    this.opts = opts
  }

  /** Connections not closed yet (up or still handshaking). */
  get size(): number {
    return this.sessions.size
  }

  /** Our dials not through Hello yet. */
  get dialing(): number {
    let n = 0
    for (const s of this.sessions) if (s.outbound && !s.up) n++
    return n
  }

  /** Every open connection, up or still handshaking. */
  list(): Session[] {
    return [...this.sessions]
  }

  /** True while a connection to or from `id` exists or is being set up (as far as the authenticated id is known). */
  has(id: string): boolean {
    for (const s of this.sessions) if (remoteIdOf(s) === id) return true
    return false
  }

  accept(socket: Socket): void {
    const session = this.track(socket, false)
    this.startSession(session, null)
  }

  dial(host: string, port: number, remoteId: Uint8Array): void {
    const socket = new Socket()
    const session = this.track(socket, true, remoteId)
    socket.connect(port, host, () => {
      if (!session.closing) this.startSession(session, remoteId)
    })
  }

  /** Sends Disconnect (if the session got that far) and ends the socket. */
  disconnect(session: Session, reason: DisconnectReason, detail?: string): void {
    const s = session as MutableSession
    if (s.closing) return
    s.closing = true
    s.disconnectReason = reason
    s.disconnectDetail = detail
    if (s.devp2p !== undefined) sendDisconnect(s.devp2p, s.socket, reason)
    else s.socket.destroy()
  }

  /**
   * Closes every connection and resolves once all sockets are closed: 'up'
   * sessions get a Disconnect and `graceMs` to close their end, the rest are
   * destroyed at once.
   */
  async closeAll(graceMs: number): Promise<void> {
    const waits: Promise<void>[] = []
    for (const s of this.sessions) {
      if (s.socket.closed) continue
      const closed = new Promise<void>((resolve) => s.socket.once('close', () => resolve()))
      if (s.up) {
        this.disconnect(s, DisconnectReason.CLIENT_QUITTING, 'server stopping')
        const grace = setTimeout(() => s.socket.destroy(), graceMs)
        waits.push(closed.then(() => clearTimeout(grace)))
      } else {
        s.closing = true
        s.socket.destroy()
        waits.push(closed)
      }
    }
    await Promise.all(waits)
  }

  private track(socket: Socket, outbound: boolean, remoteId?: Uint8Array): MutableSession {
    const session: MutableSession = { socket, outbound, up: false, closing: false }
    if (remoteId !== undefined) session.id = peerIdHex(remoteId)
    this.sessions.add(session)
    const ms = outbound ? this.opts.dialTimeoutMs + this.opts.handshakeTimeoutMs : this.opts.handshakeTimeoutMs
    session.timer = setTimeout(() => {
      const err = new PeerError('ERR_PEER_HANDSHAKE_TIMEOUT', `no RLPx session within ${ms} ms`)
      log('%s: %s', describe(session), err.message)
      socket.destroy(err)
    }, ms)
    // Every socket needs an 'error' listener; socket errors end in 'close', where the session ends.
    socket.on('error', (err) => {
      if (session.up && !session.closing) log('%s: socket error: %s', describe(session), err.message)
      else log('%s: %s', describe(session), err.message)
    })
    // Deferred so devp2p's own 'close' handling (which records the Disconnect reason) runs first.
    socket.once('close', () => queueMicrotask(() => this.onClosed(session)))
    return session
  }

  private startSession(session: MutableSession, remoteId: Uint8Array | null): void {
    const devp2p = new AuthenticatedPeer({
      socket: session.socket,
      remoteId: remoteId as Uint8Array,
      privateKey: this.opts.privateKey,
      id: this.opts.nodeId,
      timeout: this.opts.pingTimeoutMs,
      clientId: this.opts.clientId,
      capabilities: this.opts.capabilities,
      common: this.opts.common,
      port: this.opts.listenPort,
    })
    session.devp2p = devp2p
    devp2p.events.on('error', (err: Error) => {
      if (session.up && !session.closing) this.emit('error', session, err)
      else log('%s: %s', describe(session), err.message)
    })
    devp2p.events.once('connect', () => this.onHello(session, devp2p))
    devp2p.events.once('identity', (err: HelloIdentityError) => this.onIdentityRefused(session, err))
    devp2p.events.once('close', (reason: number | undefined) => {
      session.disconnectReason ??= reason
    })
  }

  /** devp2p reports Hello only once its id equals the authenticated key (AuthenticatedPeer). */
  private onHello(session: MutableSession, devp2p: AuthenticatedPeer): void {
    clearTimeout(session.timer)
    const remote = authenticatedRemoteId(devp2p)
    if (session.closing || remote === null) return
    if (equalsBytes(remote, this.opts.nodeId)) {
      log('closing connection to ourselves')
      return this.disconnect(session, DisconnectReason.SAME_IDENTITY)
    }
    session.id = peerIdHex(remote)
    const existing = [...this.sessions].find((s) => s !== session && s.up && s.id === session.id)
    if (existing !== undefined) {
      // Both ends apply the same rule, so they keep the same TCP connection.
      const keepNew = this.preferred(session) && !this.preferred(existing)
      const drop = keepNew ? existing : session
      log('duplicate connection with %s: closing the %s one', session.id.slice(0, 8), drop.outbound ? 'outbound' : 'inbound')
      this.disconnect(drop, DisconnectReason.ALREADY_CONNECTED, 'duplicate connection (tie-break)')
      if (!keepNew) return
    }
    session.up = true
    this.emit('up', session)
  }

  /**
   * devp2p refused the remote's Hello (AuthenticatedPeer has already sent
   * Disconnect and ended the socket). The session is ours to close: it ends
   * in 'aborted' with the error, and nothing was keyed by the claimed id.
   */
  private onIdentityRefused(session: MutableSession, err: HelloIdentityError): void {
    log('%s: refusing Hello: %s', describe(session), describeError(err))
    session.closing = true
    session.disconnectReason = err.reason
    session.disconnectDetail = err.message
    session.identityError = err
  }

  /** Of two connections between the same nodes, keep the one the node with the lower id dialed. */
  private preferred(session: Session): boolean {
    const weAreLower = session.id !== undefined && compareBytes(this.opts.nodeId, hexId(session.id)) < 0
    return weAreLower === session.outbound
  }

  private onClosed(session: MutableSession): void {
    clearTimeout(session.timer)
    this.sessions.delete(session)
    if (!session.up) {
      this.emit('aborted', session)
      return
    }
    const code = session.disconnectReason
    const reason = code === undefined ? 'connection closed' : describeDisconnect(code, session.closing ? session.disconnectDetail : undefined)
    this.emit('down', session, reason)
  }
}

function remoteIdOf(s: MutableSession): string | undefined {
  if (s.id !== undefined) return s.id
  // An accepted remote's key is known once its ECIES auth arrived; getId() would wait for (and believe) its Hello.
  const id = s.devp2p === undefined ? null : authenticatedRemoteId(s.devp2p)
  return id === null ? undefined : peerIdHex(id)
}

function hexId(id: string): Uint8Array {
  return unprefixedHexToBytes(id)
}

function describe(s: Session): string {
  return `${s.outbound ? 'outbound' : 'inbound'} ${s.socket.remoteAddress}:${s.socket.remotePort}`
}
