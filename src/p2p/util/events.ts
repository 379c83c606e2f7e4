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
