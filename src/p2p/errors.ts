/**
 * Base class of every error the P2P stack raises. `code` is stable (logs,
 * metrics labels, wire-level reports); the message carries the
 * human-readable reason. Subsystems subclass it, and callers tell errors
 * apart with `instanceof`.
 */
export class P2PError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A wait was cancelled through an AbortSignal. */
export class AbortError extends P2PError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options)
  }
}

const TIMEOUT = Symbol('p2p.timeout')

type ErrorClass = abstract new (...args: never[]) => Error

/**
 * Makes `cls` a member of the timeout family: `err instanceof TimeoutError`
 * holds for its instances. Called from a static block of each layer's
 * timeout class (`static { markTimeout(this) }`).
 */
export function markTimeout(cls: ErrorClass): void {
  Object.defineProperty(cls.prototype, TIMEOUT, { value: true })
}

/**
 * A wait ran past its deadline, and the family of every timeout in the stack.
 *
 * Each layer's timeout (the ECIES handshake's, a multistream-select
 * negotiation's, a dial's, a connection upgrade's, ...) belongs to its
 * layer's family (`EciesError`, `MultistreamError`, ...), and a class has
 * one parent. So membership of this family is a mark (see markTimeout)
 * rather than inheritance: `err instanceof TimeoutError` is true for every
 * marked class, while `instanceof` a subclass of TimeoutError keeps its
 * ordinary meaning.
 */
export class TimeoutError extends P2PError {
  static {
    markTimeout(this)
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options)
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== TimeoutError) return Function.prototype[Symbol.hasInstance].call(this, value)
    return typeof value === 'object' && value !== null && (value as { [TIMEOUT]?: true })[TIMEOUT] === true
  }
}

/** An error's code and message (or the thrown value), for log lines and error texts that carry their reason. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message
}
