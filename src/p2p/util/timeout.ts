import { anySignal, raceSignal } from './abort'

/** setTimeout's largest delay (~24.8 days); it treats longer ones as 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** A timer exposed as an AbortSignal, released with `clear()`. */
export interface Deadline {
  readonly signal: AbortSignal
  /** True once the timer fired (as opposed to the caller clearing it). */
  readonly expired: boolean
  clear(): void
}

/**
 * Aborts `signal` with `makeError()` after `ms` milliseconds. `ms` of
 * `Infinity` means "no deadline" (a signal that never fires), so every wait in
 * the stack can take the same shape whether or not a limit is configured.
 */
export function createDeadline(ms: number, makeError: () => Error): Deadline {
  assertTimeout(ms)
  const controller = new AbortController()
  let expired = false
  let timer: ReturnType<typeof setTimeout> | undefined
  if (ms !== Infinity) {
    timer = setTimeout(() => {
      timer = undefined
      expired = true
      controller.abort(makeError())
    }, Math.min(ms, MAX_TIMER_MS))
  }
  return {
    signal: controller.signal,
    get expired() {
      return expired
    },
    clear() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
  }
}

/**
 * Runs `work` under one signal that aborts when any of `signals` does (with
 * its reason) or after `ms` (with `makeError()`), whichever comes first. This is
 * how a deadline enters the stack: the work and everything it calls take
 * the one signal and react to its reason, and none of them runs a timer of
 * its own. The timer and listeners are released before this settles.
 */
export async function withDeadline<T>(
  ms: number,
  makeError: () => Error,
  signals: ReadonlyArray<AbortSignal | undefined>,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = createDeadline(ms, makeError)
  const linked = anySignal([...signals, deadline.signal])
  try {
    return await work(linked.signal)
  } finally {
    linked.clear()
    deadline.clear()
  }
}

/**
 * Settles like `promise`, or rejects with `makeError()` after `ms`, or with the
 * abort reason when `signal` fires — whichever comes first: withDeadline for
 * work that cannot take a signal itself. `onCancel` runs when the timeout or
 * the abort wins, so the caller can tear the work down (destroy a socket,
 * reset a stream).
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  makeError: () => Error,
  onCancel?: (err: Error) => void,
): Promise<T> {
  return withDeadline(ms, makeError, [signal], (linked) => raceSignal(promise, linked, onCancel))
}

/** Throws a RangeError for a timeout that is not a non-negative number. */
export function assertTimeout(ms: number, name = 'timeout'): void {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds or Infinity, got ${String(ms)}`)
  }
}

/** Throws a RangeError for a limit that is not a non-negative integer (or Infinity). */
export function assertLimit(n: number, name: string): void {
  if (n === Infinity) return
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a non-negative integer or Infinity, got ${String(n)}`)
  }
}
