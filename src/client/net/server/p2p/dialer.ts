import type { Connection, Transport } from '../../../../p2p'
import type { DialTarget } from '../dialscheduler'

export interface DialerOptions {
  transport: Transport
  onConnection: (conn: Connection) => void
  onFailure: (target: DialTarget, err: unknown) => void
}

interface Dial {
  ctl: AbortController
  done: Promise<void>
}

/**
 * The P2PServer's dials in progress, each abortable (a ban or stop cancels
 * it). Whom to dial and when is the DialScheduler's call; what to do with
 * the resulting connection, the server's.
 */
export class Dialer {
  private readonly opts: DialerOptions
  private readonly dials = new Map<string, Dial>()

  constructor(opts: DialerOptions) {
    this.opts = opts
  }

  /** Dials in progress. */
  get size(): number {
    return this.dials.size
  }

  isDialing(id: string): boolean {
    return this.dials.has(id)
  }

  /** Connects to the target, authenticating its id; the result goes to onConnection / onFailure. */
  dial(target: DialTarget): void {
    const ctl = new AbortController()
    const addr = { host: target.host, port: target.port }
    const done = this.opts.transport.dial(addr, { remoteId: target.remoteId, signal: ctl.signal }).then(
      (conn) => {
        this.dials.delete(target.id)
        this.opts.onConnection(conn)
      },
      (err: unknown) => {
        this.dials.delete(target.id)
        this.opts.onFailure(target, err)
      },
    )
    this.dials.set(target.id, { ctl, done })
  }

  /** Aborts the dial of `id`, if one is in progress (it was banned). */
  abort(id: string, reason: Error): void {
    this.dials.get(id)?.ctl.abort(reason)
  }

  /** Aborts every dial and resolves once each has settled. */
  async abortAll(reason: Error): Promise<void> {
    const dials = [...this.dials.values()]
    for (const d of dials) d.ctl.abort(reason)
    await Promise.allSettled(dials.map((d) => d.done))
  }
}
