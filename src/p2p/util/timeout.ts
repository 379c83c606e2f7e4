import { anySignal, raceSignal } from './abort'

const MAX_TIMER_MS = 2 ** 31 - 1

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
    // setTimeout treats delays above 2^31-1 as 1 ms; clamp instead (~24.8 days).
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
 * Settles like `promise`, or rejects with `makeError()` after `ms`, or with the
 * abort reason when `signal` fires — whichever comes first. `onCancel` runs
 * when the timeout or the abort wins, so the caller can tear the work down
 * (destroy a socket, reset a stream). The timer and listeners are always
 * released before this promise settles.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  makeError: () => Error,
  onCancel?: (err: Error) => void,
): Promise<T> {
  const deadline = createDeadline(ms, makeError)
  const linked = anySignal([signal, deadline.signal])
  try {
    return await raceSignal(promise, linked.signal, onCancel)
  } finally {
    linked.clear()
    deadline.clear()
  }
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
