import type { EventEmitter } from 'node:events'
import { TimeoutError } from '../errors'
import { withTimeout } from './timeout'

/** Options of `waitForEvent`. */
export interface WaitForEventOptions {
  signal?: AbortSignal
  /** Rejects with a TimeoutError after this long. Default: no timeout. */
  timeoutMs?: number
  /** An event that rejects the wait with its first argument (e.g. 'error'). */
  rejectOn?: string
}

/**
 * Resolves with the arguments of the next `event`, removing every listener it
 * added once settled (tests check for leaked listeners, so `events.once` with
 * its lingering abort listener is not used here).
 */
export function waitForEvent<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  opts: WaitForEventOptions = {},
): Promise<T> {
  let detach = (): void => {}
  const waiting = new Promise<T>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      detach()
      resolve(args as T)
    }
    const onReject = (err: unknown): void => {
      detach()
      reject(err instanceof Error ? err : new Error(`'${String(opts.rejectOn)}' emitted ${String(err)}`))
    }
    emitter.on(event, onEvent)
    if (opts.rejectOn !== undefined) emitter.on(opts.rejectOn, onReject)
    detach = () => {
      emitter.off(event, onEvent)
      if (opts.rejectOn !== undefined) emitter.off(opts.rejectOn, onReject)
    }
  })
  const timeoutMs = opts.timeoutMs ?? Infinity
  return withTimeout(
    waiting,
    timeoutMs,
    opts.signal,
    () => new TimeoutError(`no '${event}' event within ${timeoutMs} ms`),
    () => detach(),
  )
}

/**
 * A one-way flag that can be awaited, allocating nothing until someone
 * waits: long-lived objects keep one per lifecycle step ("socket closed")
 * where an eagerly built Promise would hold a promise, its resolver and a
 * listener for every idle connection.
 */
export class Latch {
  #open = false
  #waiters: Array<() => void> | undefined

  get isOpen(): boolean {
    return this.#open
  }

  /** Opens the latch and releases every waiter; idempotent. */
  open(): void {
    if (this.#open) return
    this.#open = true
    const waiters = this.#waiters
    this.#waiters = undefined
    if (waiters !== undefined) for (const release of waiters) release()
  }

  wait(): Promise<void> {
    if (this.#open) return Promise.resolve()
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve))
  }
}
