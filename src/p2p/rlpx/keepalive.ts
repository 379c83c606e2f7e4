import { RlpxPingFloodError, RlpxPingTimeoutError } from './errors'

export interface KeepAliveOptions {
  pingIntervalMs: number
  pongTimeoutMs: number
  maxPingsPerWindow: number
  pingWindowMs: number
}

export interface KeepAliveHooks {
  sendPing(): void
  /** A Ping went unanswered: end the session. */
  timedOut(err: RlpxPingTimeoutError): void
  /** True while the session has stopped reading (our backpressure): an unread Pong is not the remote's fault. */
  readPaused(): boolean
}

/**
 * The base protocol's liveness rules for one session: a Ping every
 * `pingIntervalMs` (none while one is unanswered), a Pong due within
 * `pongTimeoutMs`, and a bound on the Pings the remote may send us
 * (`maxPingsPerWindow` per fixed window of `pingWindowMs`; each costs a Pong).
 * An interval or timeout of Infinity disables that timer.
 */
export class KeepAlive {
  readonly #opts: KeepAliveOptions
  readonly #hooks: KeepAliveHooks
  #pingTimer: ReturnType<typeof setTimeout> | undefined
  #pongTimer: ReturnType<typeof setTimeout> | undefined
  #windowStart = 0
  #pingsInWindow = 0
  #stopped = false
  #pingSentAt: number | undefined

  constructor(opts: KeepAliveOptions, hooks: KeepAliveHooks) {
    this.#opts = opts
    this.#hooks = hooks
  }

  /** True while a Ping of ours waits for its Pong. */
  get awaitingPong(): boolean {
    return this.#pingSentAt !== undefined
  }

  start(): void {
    if (this.#stopped) return
    this.#schedulePing()
  }

  stop(): void {
    this.#stopped = true
    if (this.#pingTimer !== undefined) clearTimeout(this.#pingTimer)
    if (this.#pongTimer !== undefined) clearTimeout(this.#pongTimer)
    this.#pingTimer = undefined
    this.#pongTimer = undefined
  }

  /** Returns the round-trip time of our Ping in ms, or undefined for a Pong nobody asked for. */
  pongReceived(now = performance.now()): number | undefined {
    if (this.#pingSentAt === undefined) return undefined
    const rtt = now - this.#pingSentAt
    this.#pingSentAt = undefined
    if (this.#pongTimer !== undefined) clearTimeout(this.#pongTimer)
    this.#pongTimer = undefined
    return rtt
  }

  /** Counts a Ping from the remote; returns the flood error once it is one too many. */
  pingReceived(now = performance.now()): RlpxPingFloodError | undefined {
    if (now - this.#windowStart >= this.#opts.pingWindowMs) {
      this.#windowStart = now
      this.#pingsInWindow = 0
    }
    this.#pingsInWindow++
    if (this.#pingsInWindow > this.#opts.maxPingsPerWindow) return new RlpxPingFloodError(this.#pingsInWindow, this.#opts.pingWindowMs)
    return undefined
  }

  #schedulePing(): void {
    const ms = this.#opts.pingIntervalMs
    if (ms === Infinity) return
    this.#pingTimer = setTimeout(this.#onPingDue, ms)
  }

  readonly #onPingDue = (): void => {
    this.#pingTimer = undefined
    if (this.#stopped) return
    if (this.#pingSentAt === undefined) {
      this.#pingSentAt = performance.now()
      this.#hooks.sendPing()
      this.#armPongTimer()
    }
    if (!this.#stopped) this.#schedulePing()
  }

  #armPongTimer(): void {
    const ms = this.#opts.pongTimeoutMs
    if (ms === Infinity || this.#stopped) return
    this.#pongTimer = setTimeout(this.#onPongOverdue, ms)
  }

  readonly #onPongOverdue = (): void => {
    this.#pongTimer = undefined
    if (this.#stopped) return
    if (this.#hooks.readPaused()) {
      // The Pong may be sitting unread behind data we are not reading yet.
      this.#armPongTimer()
      return
    }
    this.#hooks.timedOut(new RlpxPingTimeoutError(this.#opts.pongTimeoutMs))
  }
}
