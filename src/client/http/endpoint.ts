import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'

import debug from 'debug'

import { ClientError, describeError } from '../errors'

const log = debug('client:http')

/** An operator endpoint (metrics, JSON-RPC) could not start or was used in the wrong state. */
export class EndpointError extends ClientError {
  constructor(code: `ERR_ENDPOINT_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

export interface HttpEndpointOptions {
  /** What the endpoint is, for messages ("metrics", "JSON-RPC"). */
  name: string
  host: string
  /** 0 picks a free port. */
  port: number
  /** node:http's headersTimeout: the whole request head must arrive within this. */
  headersTimeoutMs: number
  /** node:http's requestTimeout: the whole request (head and body) must arrive within this. */
  requestTimeoutMs: number
  /** Requests on one keep-alive connection before the server closes it (node:http's maxRequestsPerSocket). */
  maxRequestsPerSocket?: number
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * One node:http listener with the lifecycle the client expects: start()
 * resolves once bound (or rejects with ERR_ENDPOINT_LISTEN naming the
 * address), stop() is idempotent and closes idle and active connections, so
 * a stopped client holds no socket. Slow clients are cut off by node:http's
 * own header and request timers, which the options make explicit.
 */
export class HttpEndpoint {
  private readonly opts: HttpEndpointOptions
  private readonly handler: RequestHandler
  private server?: Server
  private boundPort = 0

  constructor(opts: HttpEndpointOptions, handler: RequestHandler) {
    this.opts = opts
    this.handler = handler
  }

  get listening(): boolean {
    return this.server?.listening === true
  }

  /** `http://host:port` once started. */
  get origin(): string {
    if (!this.listening) throw new EndpointError('ERR_ENDPOINT_STATE', `${this.opts.name} endpoint is not listening`)
    return `http://${this.opts.host}:${this.boundPort}`
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    const server = createServer({
      headersTimeout: this.opts.headersTimeoutMs,
      requestTimeout: this.opts.requestTimeoutMs,
      // node:http checks both timers on this period; it must be below the shortest of them.
      connectionsCheckingInterval: Math.max(10, Math.min(this.opts.headersTimeoutMs, this.opts.requestTimeoutMs, 30_000) / 4),
    })
    server.maxRequestsPerSocket = this.opts.maxRequestsPerSocket ?? 0
    server.on('request', this.handler)
    server.on('clientError', (err, socket) => {
      log('%s: client error: %s', this.opts.name, describeError(err))
      // node:http answers 400/408/431 itself when it can; a socket it left open is ended here.
      if (!socket.destroyed) socket.destroy()
    })
    this.server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.opts.port, this.opts.host, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      this.server = undefined
      throw new EndpointError('ERR_ENDPOINT_LISTEN', `${this.opts.name} endpoint cannot listen on ${this.opts.host}:${this.opts.port}: ${describeError(err)}`, { cause: err })
    }
    const addr = server.address()
    this.boundPort = addr !== null && typeof addr === 'object' ? addr.port : this.opts.port
    server.on('error', (err) => log('%s: server error: %s', this.opts.name, describeError(err)))
    log('%s listening on %s', this.opts.name, this.origin)
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
}

/** Ends a response with a plain-text body and status. */
export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
