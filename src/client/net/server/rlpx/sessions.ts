import { EventEmitter } from 'node:events'
import { Socket } from 'node:net'

import { DISCONNECT_REASON, DisconnectReasonNames, Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { compareBytes, equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { peerIdHex } from '../../peer/peer'
import { PeerError } from '../../../errors'

import { sendDisconnect } from './devp2p'

import type { Capabilities } from '@ethereumjs/devp2p'
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
  /** Remote id: known from the start when we dialed, after the ECIES auth otherwise. */
  readonly devp2p?: Devp2pPeer
  /** Hex id of the remote once Hello completed. */
  id?: string
  /** Hello completed and the session was reported 'up'. */
  up: boolean
  /** We initiated the close; later socket errors are expected. */
  closing: boolean
  /** devp2p Disconnect reason of the session's end: ours when `closing`, else the remote's (undefined: no Disconnect). */
  readonly disconnectReason?: number
}

interface MutableSession extends Session {
  devp2p?: Devp2pPeer
  timer?: NodeJS.Timeout
  disconnectReason?: number
}

export interface RlpxSessionsEvents {
  /** Hello done with a new remote id (duplicates and self-dials are resolved before this). */
  up: [session: Session]
  /** An 'up' session's socket closed. */
  down: [session: Session, reason: string]
  /**
   * A session's socket closed before Hello completed: a failed dial or
   * inbound handshake (`closing` tells whether we ended it ourselves).
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

  /** True while a connection to or from `id` exists or is being set up (as far as the id is known). */
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
  disconnect(session: Session, reason: DISCONNECT_REASON): void {
    const s = session as MutableSession
    if (s.closing) return
    s.closing = true
    s.disconnectReason = reason
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
        this.disconnect(s, DISCONNECT_REASON.CLIENT_QUITTING)
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
    const devp2p = new Devp2pPeer({
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
    devp2p.events.once('close', (reason: number | undefined) => {
      session.disconnectReason ??= reason
    })
  }

  private onHello(session: MutableSession, devp2p: Devp2pPeer): void {
    clearTimeout(session.timer)
    const remote = devp2p.getId()
    if (session.closing || remote === null) return
    if (equalsBytes(remote, this.opts.nodeId)) {
      log('closing connection to ourselves')
      return this.disconnect(session, DISCONNECT_REASON.SAME_IDENTITY)
    }
    session.id = peerIdHex(remote)
    const existing = [...this.sessions].find((s) => s !== session && s.up && s.id === session.id)
    if (existing !== undefined) {
      // Both ends apply the same rule, so they keep the same TCP connection.
      const keepNew = this.preferred(session) && !this.preferred(existing)
      const drop = keepNew ? existing : session
      log('duplicate connection with %s: closing the %s one', session.id.slice(0, 8), drop.outbound ? 'outbound' : 'inbound')
      this.disconnect(drop, DISCONNECT_REASON.ALREADY_CONNECTED)
      if (!keepNew) return
    }
    session.up = true
    this.emit('up', session)
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
    const reason = code === undefined ? 'connection closed' : (DisconnectReasonNames[code as DISCONNECT_REASON] ?? `reason ${code}`)
    this.emit('down', session, reason)
  }
}

function remoteIdOf(s: MutableSession): string | undefined {
  if (s.id !== undefined) return s.id
  // An inbound remote's id is known once its ECIES auth arrived, before Hello.
  const id = s.devp2p?.getId()
  return id ? peerIdHex(id) : undefined
}

function hexId(id: string): Uint8Array {
  return unprefixedHexToBytes(id)
}

function describe(s: Session): string {
  return `${s.outbound ? 'outbound' : 'inbound'} ${s.socket.remoteAddress}:${s.socket.remotePort}`
}
