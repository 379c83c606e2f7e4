import type { EventEmitter } from 'node:events'

/**
 * Leak checks for the reliability suites: a baseline of what the process
 * holds (libuv handles and requests from process.getActiveResourcesInfo(),
 * listener counts of chosen emitters, any counter the test names, such as
 * open streams), and a wait until the process is back at it.
 *
 * The wait polls once per event-loop turn (setImmediate), never on a timer:
 * a closed socket leaves getActiveResourcesInfo() only in the loop's close
 * phase, after its 'close' event, so a few turns are expected. It gives up
 * after `timeoutMs` and reports what is still over the baseline.
 */

export interface Watch {
  /** Emitters whose listener counts (per event name) must return to the baseline. */
  emitters?: Record<string, EventEmitter>
  /** Named counters (open streams, connections, ...) that must return to the baseline. */
  counters?: Record<string, () => number>
}

export interface Baseline {
  readonly watch: Watch
  readonly values: Map<string, number>
}

/** Bound on waiting for the process to settle back; only reached when something leaked. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 10_000

/** Counts of each active resource type (TCPSocketWrap, Timeout, ...). */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}

/** Listener count per event name (symbols included) of one emitter. */
export function listenerCounts(emitter: EventEmitter): Map<string, number> {
  const counts = new Map<string, number>()
  for (const name of emitter.eventNames()) counts.set(String(name), emitter.listenerCount(name))
  return counts
}

function snapshot(watch: Watch): Map<string, number> {
  const values = new Map<string, number>()
  for (const [name, n] of activeResources()) values.set(`resource ${name}`, n)
  for (const [label, emitter] of Object.entries(watch.emitters ?? {})) {
    for (const [event, n] of listenerCounts(emitter)) values.set(`${label} listeners '${event}'`, n)
  }
  for (const [label, read] of Object.entries(watch.counters ?? {})) values.set(`counter ${label}`, read())
  return values
}

export function takeBaseline(watch: Watch = {}): Baseline {
  return { watch, values: snapshot(watch) }
}

/** Everything above the baseline now, as "name: now (baseline b)" lines; empty when back at it. */
export function overBaseline(baseline: Baseline): string[] {
  const now = snapshot(baseline.watch)
  const over: string[] = []
  for (const [name, n] of now) {
    const base = baseline.values.get(name) ?? 0
    if (n > base) over.push(`${name}: ${n} (baseline ${base})`)
  }
  return over
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Resolves with [] once nothing is above the baseline, or with what still is
 * after `timeoutMs` (so the assertion shows the leak instead of a timeout).
 */
export async function settleToBaseline(baseline: Baseline, timeoutMs = DEFAULT_SETTLE_TIMEOUT_MS): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const over = overBaseline(baseline)
    if (over.length === 0 || Date.now() >= deadline) return over
    await nextTurn()
  }
}

/** Bound on a polled condition (the suites' event-wait bound); only reached when something is broken. */
export const DEFAULT_UNTIL_TIMEOUT_MS = 20_000

/**
 * Resolves once `cond()` holds, re-checked once per event-loop turn (for
 * state that changes without an event to await); rejects after `timeoutMs`.
 */
export async function until(cond: () => boolean, what = 'condition', timeoutMs = DEFAULT_UNTIL_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`)
    await nextTurn()
  }
}

/**
 * The garbage-collection trigger node exposes with --expose-gc (vitest.config.ts and
 * test/soak/vitest.config.ts pass it to every test worker). Heap and retention checks
 * depend on it, so its absence is an error, never a silently skipped check.
 */
export function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc !== 'function') {
    throw new Error('global.gc is not exposed: heap and retention checks need node --expose-gc (vitest execArgv)')
  }
  return gc
}

/** Full collection (twice, with a loop turn between so finalizers and WeakRefs settle). */
export async function collectGarbage(): Promise<void> {
  const gc = requireGc()
  gc()
  await nextTurn()
  gc()
  await nextTurn()
}

/** heapUsed after a full collection. */
export async function heapUsed(): Promise<number> {
  await collectGarbage()
  return process.memoryUsage().heapUsed
}

/**
 * Remembers objects weakly: after the test dropped them and a collection ran,
 * those still alive are retained by something (a listener, a table, a timer).
 */
export class RetentionTracker {
  private readonly refs: Array<{ ref: WeakRef<object>; label: string }> = []

  track(obj: object, label: string): void {
    this.refs.push({ ref: new WeakRef(obj), label })
  }

  get tracked(): number {
    return this.refs.length
  }

  /** Labels of tracked objects still alive after a forced collection. */
  async survivors(): Promise<string[]> {
    await collectGarbage()
    return this.refs.filter((r) => r.ref.deref() !== undefined).map((r) => r.label)
  }
}

export const MiB = 1024 * 1024
