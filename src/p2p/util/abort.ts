import { setMaxListeners } from 'node:events'

import { AbortError, TimeoutError } from '../errors'

/**
 * AbortSignal helpers shared by the stack. They exist (instead of
 * `AbortSignal.any` / `AbortSignal.timeout`) because every combined signal and
 * every timer here must be released deterministically: the stack is tested for
 * leaked listeners and timers, and `AbortSignal.any` keeps its sources'
 * listeners alive until garbage collection.
 */

/** A derived signal plus the function that detaches it from its sources. */
export interface LinkedSignal {
  readonly signal: AbortSignal
  /** Removes the listeners this helper added to the source signals. Idempotent. */
  clear(): void
}

/**
 * A signal that aborts as soon as any of `signals` aborts, with that signal's
 * reason. `undefined` entries are ignored so optional signals can be passed
 * straight through. Call `clear()` once the operation is over.
 */
export function anySignal(signals: ReadonlyArray<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController()
  const sources = signals.filter((s): s is AbortSignal => s !== undefined)
  const detach: Array<() => void> = []
  const clear = (): void => {
    for (const d of detach.splice(0)) d()
  }
  for (const source of sources) {
    if (source.aborted) {
      clear()
      controller.abort(source.reason)
      return { signal: controller.signal, clear }
    }
    const onAbort = (): void => {
      clear()
      controller.abort(source.reason)
    }
    source.addEventListener('abort', onAbort, { once: true })
    detach.push(() => source.removeEventListener('abort', onAbort))
  }
  return { signal: controller.signal, clear }
}

/**
 * The error to reject with when `signal` aborted: its reason if that is an
 * Error (so a caller's own typed reason survives), else a typed AbortError —
 * also for the DOMException `abort()` without a reason produces (and a typed
 * TimeoutError for `AbortSignal.timeout`'s).
 */
export function abortReason(signal: AbortSignal, what = 'operation'): Error {
  const reason: unknown = signal.reason
  if (reason instanceof DOMException) {
    return reason.name === 'TimeoutError'
      ? new TimeoutError(`${what} timed out`, { cause: reason })
      : new AbortError(`${what} aborted`, { cause: reason })
  }
  if (reason instanceof Error) return reason
  return new AbortError(`${what} aborted`, reason === undefined ? undefined : { cause: reason })
}

/** Throws the abort error right away when `signal` has already fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted === true) throw abortReason(signal, what)
}

/**
 * Settles like `promise`, or rejects with the abort reason as soon as `signal`
 * fires. The losing promise's later rejection is observed (never unhandled);
 * cancelling the underlying work is the caller's job (`onAbort`).
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort?: (err: Error) => void,
  what?: string,
): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    const err = abortReason(signal, what)
    onAbort?.(err)
    return Promise.reject(err)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbortEvent = (): void => {
      promise.catch(() => {})
      const err = abortReason(signal, what)
      onAbort?.(err)
      reject(err)
    }
    signal.addEventListener('abort', onAbortEvent, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbortEvent)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbortEvent)
        reject(err)
      },
    )
  })
}

/**
 * An abort signal for the life of a long-lived object (a connection), held
 * only while some operation uses it. Most connections sit idle for hours
 * with nothing to cancel, and an AbortController (an EventTarget with its
 * listener maps) costs ~1 KiB; an idle Lifetime holds three fields.
 * Operations take the signal with acquire() and give it back with
 * release(); once ended, acquire() returns an already-aborted signal.
 */
export class Lifetime {
  #controller: AbortController | undefined
  #reason: Error | undefined
  #users = 0

  get ended(): boolean {
    return this.#reason !== undefined
  }

  /** The lifetime's signal, kept until every acquire() is matched by a release(). */
  acquire(): AbortSignal {
    this.#users++
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      // Each pending operation links one listener and removes it when it settles: bounded, not a leak.
      setMaxListeners(0, this.#controller.signal)
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  release(): void {
    if (this.#users === 0) return
    this.#users--
    // Nobody holds the signal any more: the next acquire() makes a fresh one (or an aborted one after the end).
    if (this.#users === 0) this.#controller = undefined
  }

  /** Aborts the signal with `reason`; later calls keep the first reason. */
  end(reason: Error): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
