/**
 * Base class of every error the client layer (src/client) raises. `code` is
 * stable (logs, reports); the message carries the human-readable reason.
 * Areas subclass it, and callers tell errors apart with `instanceof`.
 */
export class ClientError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A `ConfigOptions` value is invalid; `option` names the offending option. */
export class ConfigError extends ClientError {
  readonly option: string

  constructor(option: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG_INVALID', `invalid config option "${option}": ${reason}`, options)
    this.option = option
  }
}

/** The server could not start, bind, or is used in the wrong state. */
export class ServerError extends ClientError {
  constructor(code: `ERR_SERVER_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** A peer was refused or dropped for a reason worth reporting (incompatible chain, bad message, ...). */
export class PeerError extends ClientError {
  constructor(code: `ERR_PEER_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** The remote shares no capability with us that the session needs (geth: DiscUselessPeer). */
export class NoSharedCapabilityError extends PeerError {
  constructor(message: string) {
    super('ERR_PEER_NO_SHARED_CAPABILITY', message)
  }
}

/** The client was used in the wrong lifecycle state (e.g. start() before open()). */
export class ClientStateError extends ClientError {
  constructor(message: string) {
    super('ERR_CLIENT_STATE', message)
  }
}

/** An inbound request could not be served (malformed for our chain, too large, ...). */
export class ServiceError extends ClientError {
  constructor(code: `ERR_SERVICE_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** describeError is the stack's: one formatting of an error's code and message for both layers. */
export { describeError } from '../p2p'
