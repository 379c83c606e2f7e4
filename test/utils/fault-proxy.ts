import { EventEmitter } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'
import { checkFaults, type DirectionFaults, type DirectionStats, Pipe, type ProxyDirection } from './fault-pipe'

export type { DirectionFaults, DirectionStats, FlipFault, ProxyDirection } from './fault-pipe'

/**
 * A TCP proxy for fault-injection tests: it listens on 127.0.0.1 (ephemeral
 * port), connects every accepted socket to a fixed target, and forwards bytes
 * both ways through a per-direction pipe that can delay, throttle, cut, flip a
 * byte or blackhole — each configurable per connection, at any time.
 *
 * Directions: 'up' is client → target (what the dialer sends), 'down' is
 * target → client. Byte offsets in fault options count the bytes the proxy has
 * received in that direction since the connection opened (swallowed bytes
 * included), i.e. positions in the sender's byte stream.
 *
 *   const proxy = await FaultProxy.start({ target: listener.address() })
 *   proxy.on('connection', (c) => c.setFaults('down', { flip: { offset: 500 } }))
 *   ... dial proxy.address() instead of the listener ...
 *   await proxy.close()
 */

export interface HostPort {
  host: string
  port: number
}

export interface FaultProxyOptions {
  target: HostPort
  /** Faults every new connection starts with. */
  defaults?: Partial<Record<ProxyDirection, DirectionFaults>>
}

/**
 * One proxied connection. Events: 'received' / 'forwarded' / 'swallowed'
 * (direction, bytes), 'flipped' (direction, offset), 'cut' (direction, offset),
 * 'close' (once, when both sockets are closed).
 */
export class ProxyConnection extends EventEmitter {
  readonly id: number
  readonly client: Socket
  readonly upstream: Socket
  closed = false
  private readonly pipes: Record<ProxyDirection, Pipe>
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly closedPromise: Promise<void>
  private markClosed!: () => void

  constructor(id: number, client: Socket, upstream: Socket, defaults: Partial<Record<ProxyDirection, DirectionFaults>>) {
    super()
    this.id = id
    this.client = client
    this.upstream = upstream
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve
    })
    this.pipes = { up: new Pipe('up', client, upstream, this), down: new Pipe('down', upstream, client, this) }
    for (const dir of ['up', 'down'] as const) this.setFaults(dir, defaults[dir] ?? {})
    let open = 2
    const onClose = (): void => {
      // Either side going away takes the other with it, as a real network path would.
      if (!client.destroyed) client.destroy()
      if (!upstream.destroyed) upstream.destroy()
      if (--open === 0) this.finish()
    }
    client.once('close', onClose)
    upstream.once('close', onClose)
    // Errors (ECONNRESET after a cut, ...) are part of the faults being injected, not test failures.
    client.on('error', () => {})
    upstream.on('error', () => {})
  }

  /** Replaces the faults of one direction (offsets stay absolute). */
  setFaults(direction: ProxyDirection, faults: DirectionFaults): void {
    checkFaults(faults)
    const pipe = this.pipes[direction]
    pipe.faults = { ...faults }
    pipe.checkCutNow()
  }

  /** Adds to the faults of one direction. */
  updateFaults(direction: ProxyDirection, faults: DirectionFaults): void {
    this.setFaults(direction, { ...this.pipes[direction].faults, ...faults })
  }

  faults(direction: ProxyDirection): DirectionFaults {
    return { ...this.pipes[direction].faults }
  }

  stats(direction: ProxyDirection): DirectionStats {
    const s = this.pipes[direction].stats
    return { ...s, flipped: [...s.flipped] }
  }

  /** Bytes received in `direction` and not yet forwarded (held by a delay, throttle or backpressure). */
  pending(direction: ProxyDirection): number {
    return this.pipes[direction].pending
  }

  /** Cuts the connection now ('fin': end both sockets; 'reset': RST both). */
  cut(direction: ProxyDirection = 'up', mode: 'fin' | 'reset' = 'fin'): void {
    if (this.closed) return
    this.emit('cut', direction, this.pipes[direction].stats.forwarded)
    this.shutdown(mode)
  }

  /** Resolves once both sockets closed. */
  whenClosed(): Promise<void> {
    return this.closedPromise
  }

  /** A timer the connection clears when it closes (the pipe's delays and pacing). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        resolve()
      }, ms)
      this.timers.add(timer)
    })
  }

  /** `p`, or resolves when the connection closes first (so no pipe waits on a dead socket). */
  untilClosed(p: Promise<void>): Promise<void> {
    return Promise.race([p, this.closedPromise])
  }

  /** Destroys both sockets. */
  destroy(): void {
    this.shutdown('reset')
  }

  private shutdown(mode: 'fin' | 'reset'): void {
    this.closed = true
    this.clearTimers()
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue
      if (mode === 'reset' && typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy()
      else if (mode === 'fin') s.end(() => s.destroy())
      else s.destroy()
    }
    if (mode === 'fin') {
      // A peer that never reads must not keep the half-closed socket (and this test) alive.
      for (const s of [this.client, this.upstream]) if (!s.destroyed) s.destroySoon()
    }
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private finish(): void {
    this.closed = true
    this.clearTimers()
    this.markClosed()
    this.emit('close')
  }
}

/** The proxy. Events: 'connection' (conn: ProxyConnection) before any byte flows; 'error' (upstream connect failures). */
export class FaultProxy extends EventEmitter {
  readonly target: HostPort
  private readonly server: net.Server
  private readonly live = new Set<ProxyConnection>()
  private readonly pendingSockets = new Set<Socket>()
  private readonly defaults: Partial<Record<ProxyDirection, DirectionFaults>>
  private nextId = 1
  private closing: Promise<void> | undefined
  /** Every connection accepted so far, in order (closed ones included). */
  readonly connections: ProxyConnection[] = []

  private constructor(opts: FaultProxyOptions) {
    super()
    this.target = { ...opts.target }
    this.defaults = { ...opts.defaults }
    for (const f of Object.values(this.defaults)) if (f !== undefined) checkFaults(f)
    // Half-open on both sides: a FIN is forwarded (after any delayed bytes) instead of ending the other way too.
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.accept(socket))
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(opts)
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject)
      proxy.server.listen(0, '127.0.0.1', () => {
        proxy.server.off('error', reject)
        resolve()
      })
    })
    return proxy
  }

  address(): HostPort {
    const a = this.server.address() as AddressInfo
    return { host: '127.0.0.1', port: a.port }
  }

  /** Faults of connections accepted from now on. */
  setDefaults(direction: ProxyDirection, faults: DirectionFaults): void {
    checkFaults(faults)
    this.defaults[direction] = { ...faults }
  }

  /** Connections whose sockets are still open. */
  get open(): ProxyConnection[] {
    return [...this.live]
  }

  /** Stops listening and destroys every connection; resolves once every socket and the server are closed. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      for (const s of this.pendingSockets) s.destroy()
      const conns = [...this.live]
      for (const c of conns) c.destroy()
      await Promise.all(conns.map((c) => c.whenClosed()))
      await serverClosed
    })()
    return this.closing
  }

  private accept(client: Socket): void {
    if (this.closing !== undefined) {
      client.destroy()
      return
    }
    this.pendingSockets.add(client)
    client.on('error', () => {})
    const upstream = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
    upstream.pause()
    upstream.on('error', () => {})
    this.pendingSockets.add(upstream)
    const onFail = (): void => {
      this.pendingSockets.delete(client)
      this.pendingSockets.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    const onUpstreamError = (err: Error): void => {
      if (this.listenerCount('error') > 0) {
        this.emit('error', new Error(`fault proxy could not reach ${this.target.host}:${this.target.port}: ${err.message}`))
      }
    }
    upstream.once('error', onUpstreamError)
    upstream.once('close', onFail)
    client.once('close', onFail)
    upstream.once('connect', () => {
      upstream.off('close', onFail)
      upstream.off('error', onUpstreamError)
      client.off('close', onFail)
      this.pendingSockets.delete(client)
      this.pendingSockets.delete(upstream)
      if (this.closing !== undefined || client.destroyed) {
        client.destroy()
        upstream.destroy()
        return
      }
      const conn = new ProxyConnection(this.nextId++, client, upstream, this.defaults)
      this.connections.push(conn)
      this.live.add(conn)
      conn.once('close', () => this.live.delete(conn))
      this.emit('connection', conn)
      client.resume()
      upstream.resume()
    })
  }
}
