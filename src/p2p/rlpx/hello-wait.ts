import { abortReason } from '../util/abort'
import { RlpxHelloTimeoutError } from './errors'

/**
 * The wait for the remote's Hello: a promise the session settles, bounded by
 * `timeoutMs` and by the caller's signal. When either fires, `onFail` gets the
 * error (RlpxHelloTimeoutError, or the signal's reason) and ends the session,
 * which settles the wait with it.
 */
export class HelloWait {
  readonly done: Promise<void>
  #resolve!: () => void
  #reject!: (err: Error) => void
  #settled = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #detach: (() => void) | undefined

  constructor(timeoutMs: number, signal: AbortSignal | undefined, onFail: (err: Error) => void) {
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // Observed by RlpxMuxer.handshake right after construction; never unhandled before that.
    this.done.catch(() => {})
    if (timeoutMs !== Infinity) this.#timer = setTimeout(() => onFail(new RlpxHelloTimeoutError(timeoutMs)), timeoutMs)
    if (signal === undefined) return
    const onAbort = (): void => onFail(abortReason(signal, 'RLPx Hello exchange'))
    if (signal.aborted) {
      // The session is still being built; fail it once it is.
      queueMicrotask(onAbort)
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    this.#detach = () => signal.removeEventListener('abort', onAbort)
  }

  /** Resolves the wait, or rejects it with `err`; later calls do nothing. */
  settle(err?: Error): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#detach?.()
    if (err === undefined) this.#resolve()
    else this.#reject(err)
  }
}
