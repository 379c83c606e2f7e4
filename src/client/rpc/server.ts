import debug from 'debug'

import { describeError } from '../errors'
import { HttpEndpoint, sendText } from '../http/endpoint'

import { adminMethods } from './admin'
import { InternalError, InvalidRequestError, MethodNotFoundError, ParseError, RpcError } from './errors'
import { ethMethods } from './eth'
import { FeeOracle } from './fees'
import { paramList } from './params'
import { TxIndex } from './txindex'

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EthereumClient } from '../client'
import type { SyncStatusSource } from '../types'
import type { RpcContext, RpcMethods } from './context'

const log = debug('client:rpc')

export interface RpcServerOptions {
  client: EthereumClient
  host: string
  port: number
  /** Largest request body in bytes; a larger one is answered 413 and the connection closed. */
  maxBodyBytes: number
  /** Most calls in one batch; a larger batch is answered with one -32600 error. */
  maxBatchSize: number
  /** Time to receive a whole request (head and body); a slower client gets 408 and is disconnected. */
  readTimeoutMs: number
  sync?: () => SyncStatusSource | undefined
}

type Id = string | number | null
interface Call {
  id: Id
  method: string
  params: unknown
  /** A request without id: answered with nothing. */
  notification: boolean
}
type Reply = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: { code: number; message: string; data?: unknown } }

/** JSON-RPC 2.0 over HTTP POST (the methods of admin.ts and eth.ts), with geth's error shapes. */
export class RpcServer {
  private readonly opts: RpcServerOptions
  private readonly methods: RpcMethods
  private readonly endpoint: HttpEndpoint

  constructor(opts: RpcServerOptions) {
    this.opts = opts
    const ctx: RpcContext = {
      client: opts.client,
      sync: opts.sync ?? (() => undefined),
      txIndex: new TxIndex(opts.client.chain),
      fees: new FeeOracle(opts.client.chain),
    }
    this.methods = { ...adminMethods(ctx), ...ethMethods(ctx) }
    this.endpoint = new HttpEndpoint(
      { name: 'JSON-RPC', host: opts.host, port: opts.port, headersTimeoutMs: opts.readTimeoutMs, requestTimeoutMs: opts.readTimeoutMs },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          log('request failed: %s', describeError(err))
          if (!res.headersSent) sendText(res, 500, 'internal error\n')
          else res.destroy()
        })
      },
    )
  }

  /** `http://host:port` once started. */
  get url(): string {
    return this.endpoint.origin
  }

  /** Method names served. */
  get methodNames(): string[] {
    return Object.keys(this.methods).sort()
  }

  async start(): Promise<void> {
    await this.endpoint.start()
  }

  async stop(): Promise<void> {
    await this.endpoint.stop()
  }

  /**
   * Answers one JSON-RPC payload (a call or a batch) already parsed from JSON; undefined
   * when nothing is to be answered (notifications only).
   */
  async answer(payload: unknown): Promise<Reply | Reply[] | undefined> {
    if (!Array.isArray(payload)) return this.answerOne(payload)
    if (payload.length === 0) return errorReply(null, new InvalidRequestError('empty batch'))
    if (payload.length > this.opts.maxBatchSize) {
      return errorReply(null, new InvalidRequestError(`batch of ${payload.length} calls exceeds the limit of ${this.opts.maxBatchSize}`))
    }
    const replies: Reply[] = []
    for (const item of payload) {
      const reply = await this.answerOne(item)
      if (reply !== undefined) replies.push(reply)
    }
    return replies.length === 0 ? undefined : replies
  }

  private async answerOne(item: unknown): Promise<Reply | undefined> {
    let call: Call
    try {
      call = parseCall(item)
    } catch (err) {
      return errorReply(idOf(item), err as RpcError)
    }
    const reply = await this.invoke(call)
    return call.notification ? undefined : reply
  }

  private async invoke(call: Call): Promise<Reply> {
    const method = Object.prototype.hasOwnProperty.call(this.methods, call.method) ? this.methods[call.method] : undefined
    if (method === undefined) return errorReply(call.id, new MethodNotFoundError(call.method))
    try {
      return { jsonrpc: '2.0', id: call.id, result: await method(paramList(call.params)) }
    } catch (err) {
      if (err instanceof RpcError) return errorReply(call.id, err)
      log('%s failed: %s', call.method, describeError(err))
      return errorReply(call.id, new InternalError(describeError(err), { cause: err }))
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendText(res, 405, 'method not allowed: JSON-RPC requests are POSTed\n', { allow: 'POST' })
    const type = req.headers['content-type'] ?? ''
    if (!type.toLowerCase().startsWith('application/json')) return sendText(res, 415, 'unsupported media type: send application/json\n')
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > this.opts.maxBodyBytes) return refuseBody(res, declared, this.opts.maxBodyBytes)
    const body = await readBody(req, this.opts.maxBodyBytes)
    if (body === undefined) return refuseBody(res, undefined, this.opts.maxBodyBytes)
    let payload: unknown
    try {
      payload = JSON.parse(body.toString('utf8'))
    } catch (err) {
      return sendJson(res, errorReply(null, new ParseError((err as Error).message)))
    }
    const reply = await this.answer(payload)
    if (reply === undefined) {
      res.writeHead(204)
      res.end()
      return
    }
    sendJson(res, reply)
  }
}

function parseCall(item: unknown): Call {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new InvalidRequestError('expected a request object')
  const o = item as Record<string, unknown>
  if (o.jsonrpc !== '2.0') throw new InvalidRequestError('"jsonrpc" must be "2.0"')
  if (typeof o.method !== 'string' || o.method === '') throw new InvalidRequestError('"method" must be a non-empty string')
  const hasId = Object.prototype.hasOwnProperty.call(o, 'id')
  if (hasId && !isId(o.id)) throw new InvalidRequestError('"id" must be a string, a number or null')
  if (o.params !== undefined && typeof o.params !== 'object') throw new InvalidRequestError('"params" must be an array or an object')
  return { id: hasId ? (o.id as Id) : null, method: o.method, params: o.params, notification: !hasId }
}

function isId(v: unknown): v is Id {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))
}

/** The id of a request that failed validation, when it has a usable one (else null, as JSON-RPC says). */
function idOf(item: unknown): Id {
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined
  return isId(id) ? id : null
}

function errorReply(id: Id, err: RpcError): Reply {
  const error: { code: number; message: string; data?: unknown } = { code: err.rpcCode, message: err.message }
  if (err.data !== undefined) error.data = err.data
  return { jsonrpc: '2.0', id, error }
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** 413, and the connection closed: the rest of the body is not read. */
function refuseBody(res: ServerResponse, declared: number | undefined, limit: number): void {
  const size = declared === undefined ? 'more than that' : `${declared} bytes`
  sendText(res, 413, `request body too large: ${size}, the limit is ${limit} bytes\n`, { connection: 'close' })
  res.once('finish', () => res.socket?.destroy())
}

/** The body, or undefined once it passes `limit` bytes (reading stops there). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        req.pause()
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onClose = (): void => onError(new Error('client closed the connection before the body ended'))
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
