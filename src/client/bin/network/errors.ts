import { ClientError } from '../../errors'

/** Every error the network script raises; `code` is stable (ERR_NETWORK_*). */
export class NetworkScriptError extends ClientError {
  constructor(code: `ERR_NETWORK_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** A command-line argument is unknown, missing its value, or out of range. */
export class ArgsError extends NetworkScriptError {
  constructor(message: string) {
    super('ERR_NETWORK_ARGS', message)
  }
}

/** Something awaited (an event, a condition, a shutdown) did not happen in time. */
export class WaitTimeoutError extends NetworkScriptError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super('ERR_NETWORK_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`)
  }
}

/** The run was interrupted (SIGINT/SIGTERM, or the caller's AbortSignal). */
export class InterruptedError extends NetworkScriptError {
  constructor(what: string) {
    super('ERR_NETWORK_INTERRUPTED', `interrupted while waiting for ${what}`)
  }
}
