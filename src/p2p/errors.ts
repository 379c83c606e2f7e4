/**
 * Base class of every error the P2P stack raises. `code` is stable and meant
 * for programmatic checks (`err.code === 'ERR_MPLEX_FRAME_TOO_LARGE'`); the
 * message carries the human-readable reason. Subsystems subclass it so callers
 * can also branch on `instanceof`.
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

/** A wait ran past its deadline. */
export class TimeoutError extends P2PError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options)
  }
}
