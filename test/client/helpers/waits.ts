/**
 * Waiting in tests: every wait is for an event, bounded by a timeout that
 * only a broken build ever reaches (then the test fails with a message
 * instead of hanging). No test sleeps for a fixed time.
 */

/** Bound on every wait of the client and integration tests: loopback needs far less. */
export const WAIT_MS = 20_000

/** Anything with on/off listeners: a Node EventEmitter or the client's EventBus. */
export interface Subscribable {
  on(event: never, listener: never): unknown
  off(event: never, listener: never): unknown
}

type Listener = (...args: unknown[]) => void

function on(source: Subscribable, event: string, listener: Listener): void {
  ;(source as unknown as { on(e: string, l: Listener): void }).on(event, listener)
}

function off(source: Subscribable, event: string, listener: Listener): void {
  ;(source as unknown as { off(e: string, l: Listener): void }).off(event, listener)
}

/** Resolves with the arguments of the next `event` on `source`; rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[] = unknown[]>(source: Subscribable, event: string, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener: Listener = (...args) => {
      clearTimeout(timer)
      off(source, event, listener)
      resolve(args as T)
    }
    const timer = setTimeout(() => {
      off(source, event, listener)
      reject(new Error(`no '${event}' within ${timeoutMs} ms`))
    }, timeoutMs)
    on(source, event, listener)
  })
}

export interface WaitUntilOptions {
  timeoutMs?: number
  /** Says what was awaited and what the state is, for the timeout message. */
  describe?: () => string
}

/**
 * Resolves once `predicate()` holds, re-checking it whenever any of `events`
 * fires on any of `sources` (no polling). Rejects after the timeout; removes
 * every listener and the timer either way.
 */
export function waitUntil(sources: readonly Subscribable[], events: readonly string[], predicate: () => boolean, opts: WaitUntilOptions = {}): Promise<void> {
  if (predicate()) return Promise.resolve()
  const timeoutMs = opts.timeoutMs ?? WAIT_MS
  return new Promise((resolve, reject) => {
    const detach = (): void => {
      clearTimeout(timer)
      for (const s of sources) for (const e of events) off(s, e, check)
    }
    const check: Listener = () => {
      if (!predicate()) return
      detach()
      resolve()
    }
    const timer = setTimeout(() => {
      detach()
      const what = opts.describe === undefined ? '' : `: ${opts.describe()}`
      reject(new Error(`condition not reached within ${timeoutMs} ms (re-checked on ${events.join(', ')})${what}`))
    }, timeoutMs)
    for (const s of sources) for (const e of events) on(s, e, check)
  })
}

/** Resolves with the arguments of the next `n` emissions of `event` on `source`; rejects after `timeoutMs`. */
export function nextEvents<T extends unknown[] = unknown[]>(source: Subscribable, event: string, n: number, timeoutMs = WAIT_MS): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const got: T[] = []
    const listener: Listener = (...args) => {
      got.push(args as T)
      if (got.length < n) return
      clearTimeout(timer)
      off(source, event, listener)
      resolve(got)
    }
    const timer = setTimeout(() => {
      off(source, event, listener)
      reject(new Error(`only ${got.length} of ${n} '${event}' within ${timeoutMs} ms`))
    }, timeoutMs)
    on(source, event, listener)
  })
}

/** Records every emission of `event` on `source` until `stop()` (call it in the test's cleanup). */
export function collect<T extends unknown[] = unknown[]>(source: Subscribable, event: string): { items: T[]; stop: () => void } {
  const items: T[] = []
  const listener: Listener = (...args) => void items.push(args as T)
  on(source, event, listener)
  return { items, stop: () => off(source, event, listener) }
}
