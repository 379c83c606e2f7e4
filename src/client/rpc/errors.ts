import { ClientError } from '../errors'

/**
 * An error answered to a JSON-RPC caller: `rpcCode` is the JSON-RPC 2.0
 * error code put on the wire, `code` the client's stable string code.
 * Subclasses name the standard cases; anything else a method throws is
 * answered as -32603 (internal error) with its message.
 */
export class RpcError extends ClientError {
  readonly rpcCode: number
  /** Optional `error.data` (geth puts e.g. revert data there). */
  readonly data?: unknown

  constructor(code: `ERR_RPC_${string}`, rpcCode: number, message: string, options?: { cause?: unknown; data?: unknown }) {
    super(code, message, options)
    this.rpcCode = rpcCode
    this.data = options?.data
  }
}

/** -32700: the body is not JSON. */
export class ParseError extends RpcError {
  constructor(reason: string) {
    super('ERR_RPC_PARSE', -32700, `parse error: ${reason}`)
  }
}

/** -32600: JSON, but not a JSON-RPC 2.0 request (or a batch the node refuses). */
export class InvalidRequestError extends RpcError {
  constructor(reason: string) {
    super('ERR_RPC_INVALID_REQUEST', -32600, `invalid request: ${reason}`)
  }
}

/** -32601: no such method. */
export class MethodNotFoundError extends RpcError {
  constructor(method: string) {
    super('ERR_RPC_METHOD_NOT_FOUND', -32601, `the method ${method} does not exist/is not available`)
  }
}

/** -32602: the method exists, its parameters are wrong. */
export class InvalidParamsError extends RpcError {
  constructor(reason: string) {
    super('ERR_RPC_INVALID_PARAMS', -32602, `invalid argument ${reason}`)
  }
}

/** -32000: the request is well-formed but cannot be carried out (geth's generic server error). */
export class RpcServerError extends RpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RPC_SERVER', -32000, message, options)
  }
}

/** -32603: the node failed while handling a valid request. */
export class InternalError extends RpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RPC_INTERNAL', -32603, `internal error: ${message}`, options)
  }
}
