import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'
import debug from 'debug'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { Connection, HostPort, Transport } from '../../../p2p'

const log = debug('client:p2p:dial')

/**
 * After a failed dial (refused, unreachable, handshake error) the same node
 * is not dialed again for this long. Discovery can report a node again at
 * any time (a refresh, a Neighbours reply); a dead or refusing node must not
 * cost a socket and a handshake per report.
 */
export const DEFAULT_REDIAL_BACKOFF_MS = 30_000

export interface DialerOptions {
  transport: Transport
  /** Most candidates remembered while every slot is taken. */
  maxCandidates: () => number
  onConnection: (conn: Connection) => void
  onFailure: (id: string, addr: HostPort, err: unknown) => void
  redialBackoffMs?: number
}

interface Dial {
  ctl: AbortController
  done: Promise<void>
}

/**
 * The P2PServer's outbound side: dials in progress (each abortable), nodes
 * waiting for a free slot, and the redial backoff of nodes whose dial failed.
 * Whether a dial is allowed at all (bans, slots, duplicates) is the server's call.
 */
export class Dialer {
  readonly redialBackoffMs: number
  /** Dials started since creation. */
  attempts = 0
  private readonly opts: DialerOptions
  private readonly dials = new Map<string, Dial>()
  private readonly backoff = new Map<string, number>()
  private candidates: PeerInfo[] = []

  constructor(opts: DialerOptions) {
    this.opts = opts
    this.redialBackoffMs = opts.redialBackoffMs ?? DEFAULT_REDIAL_BACKOFF_MS
  }

  /** Dials in progress. */
  get size(): number {
    return this.dials.size
  }

  isDialing(id: string): boolean {
    return this.dials.has(id)
  }

  /** True while `id` is in its redial backoff. */
  backedOff(id: string): boolean {
    const until = this.backoff.get(id)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.backoff.delete(id)
    return false
  }

  /** Starts the backoff of `id` (its dial failed). */
  noteFailure(id: string): void {
    const now = Date.now()
    for (const [k, until] of this.backoff) if (until <= now) this.backoff.delete(k)
    this.backoff.set(id, now + this.redialBackoffMs)
  }

  /** Remembers a node for later, unless known already or the queue is full. */
  enqueue(info: PeerInfo): void {
    if (info.id === undefined) return
    const known = this.candidates.some((c) => c.id !== undefined && equalsBytes(c.id, info.id as Uint8Array))
    if (!known && this.candidates.length < this.opts.maxCandidates()) this.candidates.push(info)
  }

  /** The oldest waiting node, if any. */
  nextCandidate(): PeerInfo | undefined {
    return this.candidates.shift()
  }

  /** Connects to `addr`, authenticating `remoteId`; the result goes to onConnection / onFailure. */
  dial(id: string, remoteId: Uint8Array, addr: HostPort): void {
    const ctl = new AbortController()
    this.attempts++
    log('dialing %s at %s:%d', id.slice(0, 8), addr.host, addr.port)
    const done = this.opts.transport.dial(addr, { remoteId, signal: ctl.signal }).then(
      (conn) => {
        this.dials.delete(id)
        this.opts.onConnection(conn)
      },
      (err: unknown) => {
        this.dials.delete(id)
        this.opts.onFailure(id, addr, err)
      },
    )
    this.dials.set(id, { ctl, done })
  }

  /** Drops `id` from the queue and aborts its dial (it was banned). */
  forget(id: string, reason: Error): void {
    this.candidates = this.candidates.filter((c) => c.id === undefined || bytesToUnprefixedHex(c.id) !== id)
    this.dials.get(id)?.ctl.abort(reason)
  }

  /** Aborts every dial and resolves once each has settled; forgets the queue and backoffs. */
  async abortAll(reason: Error): Promise<void> {
    const dials = [...this.dials.values()]
    for (const d of dials) d.ctl.abort(reason)
    await Promise.allSettled(dials.map((d) => d.done))
    this.candidates = []
    this.backoff.clear()
  }
}
