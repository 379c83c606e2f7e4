import { InterruptedError, WaitTimeoutError } from './errors'

import type { Event, EventBus, EventListener } from '../../types'

export interface WaitOptions {
  /** What is awaited, for the timeout message ("node2 to have a peer"). */
  what: string
  timeoutMs: number
  signal?: AbortSignal
}

/** Subscribes `recheck` to whatever may change the condition; returns the unsubscribe function. */
export type Trigger = (recheck: () => void) => () => void

/**
 * Resolves once `condition()` holds, re-evaluating it whenever `trigger`
 * fires (no polling). Rejects with WaitTimeoutError after `timeoutMs`, or
 * InterruptedError when `signal` aborts. Leaves no listener or timer behind.
 */
export function waitForCondition(opts: WaitOptions & { condition: () => boolean; trigger: Trigger }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted === true) return reject(new InterruptedError(opts.what))
    let unsubscribe = (): void => undefined
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      unsubscribe()
      opts.signal?.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onAbort = (): void => finish(new InterruptedError(opts.what))
    const recheck = (): void => {
      let ok: boolean
      try {
        ok = opts.condition()
      } catch (err) {
        return finish(err as Error)
      }
      if (ok) finish()
    }
    const timer = setTimeout(() => finish(new WaitTimeoutError(opts.what, opts.timeoutMs)), opts.timeoutMs)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    unsubscribe = opts.trigger(recheck)
    recheck()
  })
}

/** A trigger firing on any of `events` on any of `buses`. */
export function busTrigger(buses: readonly EventBus[], events: readonly Event[]): Trigger {
  return (recheck) => {
    const listener = (() => recheck()) as EventListener<Event>
    for (const bus of buses) for (const e of events) bus.on(e, listener)
    return () => {
      for (const bus of buses) for (const e of events) bus.off(e, listener)
    }
  }
}

/** Settles like `promise`, or rejects with WaitTimeoutError / InterruptedError first. */
export function withTimeout<T>(promise: Promise<T>, opts: WaitOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (opts.signal?.aborted === true) return reject(new InterruptedError(opts.what))
    const cleanup = (): void => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      cleanup()
      reject(new InterruptedError(opts.what))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new WaitTimeoutError(opts.what, opts.timeoutMs))
    }, opts.timeoutMs)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        cleanup()
        resolve(value)
      },
      (err: unknown) => {
        cleanup()
        reject(err)
      },
    )
  })
}

/**
 * Waits `ms` (the monitoring period) unless `signal` aborts first; resolves
 * true if the full period passed. Not used to wait for something to happen.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve(false)
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
