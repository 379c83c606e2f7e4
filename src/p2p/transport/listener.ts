import { EventEmitter } from 'node:events'
import net from 'node:net'
import debug from 'debug'
import type { Connection, HostPort } from '../connection'
import { describeError } from '../errors'
import { ConnectionClosedError } from '../stack-errors'
import type { Upgrader } from '../upgrader'
import { assertLimit, assertTimeout } from '../util/timeout'
import { DEFAULT_EVICTION_WINDOW_MS, DEFAULT_MAX_EVICTIONS_PER_WINDOW, EvictionBudget } from './eviction-budget'
import { InboundRefusedError, InboundUpgradeError, ListenError, ListenerStateError, type RefusalReason } from './errors'

const log = debug('p2p:transport')

/**
 * Inbound sockets allowed mid-upgrade at once. Each costs an ECIES handshake
 * (one ECDH + signature recovery) and a socket; the bound keeps a flood of
 * sockets that never finish the handshake from exhausting memory and file
 * descriptors. Honest handshakes take a few round trips, so 64 concurrent
 * slots serve far more peers per second than any node's peer limit needs.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64

/**
 * Pending handshakes one remote IP may hold at once; more sockets from it are
 * refused at accept. Off (Infinity) by default: behind a NAT or a cloud egress
 * many honest nodes share an address, and tests run every peer on 127.0.0.1;
 * a node that knows its network sets it (e.g. 8) to keep one host from taking
 * every slot.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP = Infinity

/**
 * What to do with a new socket when every handshake slot is taken.
 * 'drop-oldest' (default) evicts the longest-pending handshake: honest
 * handshakes finish in milliseconds, so the oldest slot is the one most likely
 * held by a staller, and a good peer still gets in during a flood of idle
 * sockets. Oldest-first evictions are rate limited (`maxEvictionsPerWindow`
 * per `evictionWindowMs`, see eviction-budget.ts): once the budget is spent, a
 * new socket replaces the newest pending one instead, so a burst churns among
 * its own sockets and cannot flush handshakes that were already in flight.
 * 'refuse-new' destroys the new socket instead (stalled slots then only free
 * up at the handshake timeout).
 */
export type PendingOverflowPolicy = 'drop-oldest' | 'refuse-new'
export const DEFAULT_PENDING_OVERFLOW_POLICY: PendingOverflowPolicy = 'drop-oldest'

export interface ListenerOptions {
  /** Default DEFAULT_MAX_PENDING_HANDSHAKES (64). */
  maxPendingHandshakes?: number
  /** Default DEFAULT_PENDING_OVERFLOW_POLICY ('drop-oldest'). */
  pendingOverflow?: PendingOverflowPolicy
  /** Oldest-first evictions per window under 'drop-oldest'. Default DEFAULT_MAX_EVICTIONS_PER_WINDOW (64). */
  maxEvictionsPerWindow?: number
  /** Sliding window of `maxEvictionsPerWindow`. Default DEFAULT_EVICTION_WINDOW_MS (1 s). */
  evictionWindowMs?: number
  /** Pending handshakes per remote IP. Default DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP (Infinity: off). */
  maxPendingHandshakesPerIp?: number
  /**
   * Upgraded plus pending connections from this listener; sockets beyond it are
   * destroyed at accept. Default Infinity: peer limits belong to the node
   * (P2PServer's maxPeers), which knows about outbound connections too.
   */
  maxConnections?: number
}

type ListenerState = 'idle' | 'listening' | 'closing' | 'closed'

/**
 * Accepts TCP sockets and upgrades them into Connections.
 *
 * Events: 'listening'; 'connection' (conn: Connection); 'refused'
 * (err: InboundRefusedError) for sockets dropped by policy (gater, limits,
 * closing); 'error' (err: InboundUpgradeError | ListenError) for failed inbound
 * upgrades and server errors — the listener keeps accepting. 'error' is only
 * emitted when someone listens for it (a garbage-sending peer must not be able
 * to crash a node that forgot a listener); otherwise it is logged.
 * 'close' once, after close() finished.
 *
 * close() stops accepting, aborts pending handshakes and closes every
 * connection this listener produced (as libp2p listeners do): the listener
 * owns what it accepted, so closing it leaves nothing behind.
 */
export class TransportListener extends EventEmitter {
  readonly maxPendingHandshakes: number
  readonly pendingOverflow: PendingOverflowPolicy
  readonly maxConnections: number
  readonly maxPendingHandshakesPerIp: number
  private readonly evictions: EvictionBudget
  private state: ListenerState = 'idle'
  private server: net.Server | undefined
  private bound: HostPort | undefined
  /** Insertion order is age order, which 'drop-oldest' relies on. */
  private readonly pending = new Map<net.Socket, { ctl: AbortController; addr: HostPort }>()
  /** Pending handshakes per remote host, for `maxPendingHandshakesPerIp`. */
  private readonly pendingPerIp = new Map<string, number>()
  private readonly conns = new Set<Connection>()
  private closing: Promise<void> | undefined

  constructor(
    private readonly upgrader: Upgrader,
    opts: ListenerOptions = {},
  ) {
    super()
    this.maxPendingHandshakes = opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES
    this.pendingOverflow = opts.pendingOverflow ?? DEFAULT_PENDING_OVERFLOW_POLICY
    this.maxConnections = opts.maxConnections ?? Infinity
    this.maxPendingHandshakesPerIp = opts.maxPendingHandshakesPerIp ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP
    const maxEvictions = opts.maxEvictionsPerWindow ?? DEFAULT_MAX_EVICTIONS_PER_WINDOW
    const evictionWindowMs = opts.evictionWindowMs ?? DEFAULT_EVICTION_WINDOW_MS
    assertLimit(this.maxPendingHandshakes, 'maxPendingHandshakes')
    assertLimit(this.maxConnections, 'maxConnections')
    assertLimit(this.maxPendingHandshakesPerIp, 'maxPendingHandshakesPerIp')
    assertLimit(maxEvictions, 'maxEvictionsPerWindow')
    assertTimeout(evictionWindowMs, 'evictionWindowMs')
    this.evictions = new EvictionBudget(maxEvictions, evictionWindowMs)
    if (this.pendingOverflow !== 'drop-oldest' && this.pendingOverflow !== 'refuse-new') {
      throw new RangeError(`pendingOverflow must be 'drop-oldest' or 'refuse-new'`)
    }
  }

  /** Sockets currently mid-upgrade. */
  get pendingHandshakes(): number {
    return this.pending.size
  }

  /** Open connections this listener produced. */
  get connections(): Connection[] {
    return [...this.conns]
  }

  async listen(addr: HostPort): Promise<void> {
    if (this.state !== 'idle') throw new ListenerStateError(`cannot listen: listener is ${this.state}`)
    this.state = 'listening'
    const server = net.createServer((socket) => this.onSocket(socket))
    this.server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: addr.host, port: addr.port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      this.state = 'idle'
      this.server = undefined
      throw new ListenError(addr, err)
    }
    const info = server.address() as net.AddressInfo
    this.bound = { host: info.address, port: info.port }
    server.on('error', (err) => this.reportError(new ListenError(addr, err)))
    log('listening on %s:%d', this.bound.host, this.bound.port)
    this.emit('listening')
  }

  address(): HostPort {
    if (this.bound === undefined || this.state !== 'listening') {
      throw new ListenerStateError(`no address: listener is ${this.state}`)
    }
    return { ...this.bound }
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closing = this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    const server = this.server
    this.state = 'closing'
    const serverClosed =
      server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()))
    for (const [, { ctl, addr }] of this.pending) ctl.abort(new InboundRefusedError(addr, 'listener-closing'))
    await Promise.all([...this.conns].map((c) => c.close()))
    // net.Server 'close' waits for every accepted socket, so this also covers aborted handshakes.
    await serverClosed
    this.state = 'closed'
    this.server = undefined
    log('listener closed')
    this.emit('close')
  }

  private onSocket(socket: net.Socket): void {
    const addr: HostPort = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }
    const reason = this.admit(addr)
    if (reason !== undefined) {
      socket.destroy()
      this.refuse(new InboundRefusedError(addr, reason))
      return
    }
    if (this.pending.size >= this.maxPendingHandshakes) this.evictPending()
    socket.setNoDelay(true)
    const ctl = new AbortController()
    this.pending.set(socket, { ctl, addr })
    this.pendingPerIp.set(addr.host, (this.pendingPerIp.get(addr.host) ?? 0) + 1)
    this.upgrader.upgradeInbound(socket, { signal: ctl.signal, remoteAddr: addr }).then(
      (conn) => this.onUpgraded(socket, conn),
      (err: unknown) => this.onUpgradeFailed(socket, addr, err),
    )
  }

  /** Policy checks at accept; returns why the socket must go, or undefined to let it in. */
  private admit(addr: HostPort): RefusalReason | undefined {
    if (this.state !== 'listening') return 'listener-closing'
    if (this.upgrader.gater.denyInboundSocket?.(addr) === true) return 'gater'
    if (this.conns.size + this.pending.size >= this.maxConnections) return 'max-connections'
    if ((this.pendingPerIp.get(addr.host) ?? 0) >= this.maxPendingHandshakesPerIp) return 'max-pending-handshakes-per-ip'
    if (this.pending.size >= this.maxPendingHandshakes) {
      if (this.pendingOverflow === 'refuse-new' || this.maxPendingHandshakes === 0) return 'max-pending-handshakes'
    }
    return undefined
  }

  /** Frees one slot: the oldest while the eviction budget lasts, else the newest (the burst's own). */
  private evictPending(): void {
    let victim: net.Socket | undefined
    if (this.evictions.take()) {
      victim = this.pending.keys().next().value
    } else {
      for (const socket of this.pending.keys()) victim = socket
      log('eviction budget spent (%d per %d ms): replacing the newest pending handshake', this.evictions.max, this.evictions.windowMs)
    }
    if (victim === undefined) return
    const { ctl, addr } = this.pending.get(victim)!
    this.forgetPending(victim)
    ctl.abort(new InboundRefusedError(addr, 'max-pending-handshakes'))
  }

  private forgetPending(socket: net.Socket): void {
    const entry = this.pending.get(socket)
    if (entry === undefined) return
    this.pending.delete(socket)
    const n = (this.pendingPerIp.get(entry.addr.host) ?? 1) - 1
    if (n > 0) this.pendingPerIp.set(entry.addr.host, n)
    else this.pendingPerIp.delete(entry.addr.host)
  }

  private onUpgraded(socket: net.Socket, conn: Connection): void {
    this.forgetPending(socket)
    if (this.state !== 'listening') {
      conn.abort(new ConnectionClosedError('listener closed during the upgrade'))
      return
    }
    this.conns.add(conn)
    // 'close' fires exactly once; on() spares the once() wrapper per connection.
    conn.on('close', () => this.conns.delete(conn))
    this.emit('connection', conn)
  }

  private onUpgradeFailed(socket: net.Socket, addr: HostPort, err: unknown): void {
    this.forgetPending(socket)
    if (err instanceof InboundRefusedError) {
      this.refuse(err)
      return
    }
    this.reportError(new InboundUpgradeError(addr, err))
  }

  private refuse(err: InboundRefusedError): void {
    log('%s', err.message)
    this.emit('refused', err)
  }

  private reportError(err: Error): void {
    log('listener error: %s', describeError(err))
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }
}
