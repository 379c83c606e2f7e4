import { Registry } from 'prom-client'

import { describeError } from '../errors'
import { HttpEndpoint, sendText } from '../http/endpoint'

import { type NodeMetrics, processMetrics } from './metrics'

import type { IncomingMessage, ServerResponse } from 'node:http'

/** The exposition path, as Prometheus scrapes it by default. */
export const METRICS_PATH = '/metrics'
/** A scrape sends a bare GET: its head is tiny, and nothing should hold a socket open for long. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000

export interface MetricsServerOptions {
  metrics: NodeMetrics
  host: string
  port: number
}

/** `GET /metrics` in the Prometheus text format: the node's metrics plus the process's. */
export class MetricsServer {
  private readonly metrics: NodeMetrics
  private readonly endpoint: HttpEndpoint

  constructor(opts: MetricsServerOptions) {
    this.metrics = opts.metrics
    this.endpoint = new HttpEndpoint(
      { name: 'metrics', host: opts.host, port: opts.port, headersTimeoutMs: METRICS_REQUEST_TIMEOUT_MS, requestTimeoutMs: METRICS_REQUEST_TIMEOUT_MS },
      (req, res) => void this.handle(req, res),
    )
  }

  /** `http://host:port/metrics` once started. */
  get url(): string {
    return `${this.endpoint.origin}${METRICS_PATH}`
  }

  async start(): Promise<void> {
    await this.endpoint.start()
  }

  async stop(): Promise<void> {
    await this.endpoint.stop()
  }

  /** The exposition text, as a scrape gets it. */
  async render(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processMetrics(), this.metrics.registry])
    return { contentType: merged.contentType, body: await merged.metrics() }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]
    if (path !== METRICS_PATH) return sendText(res, 404, `not found: only ${METRICS_PATH} is served\n`)
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed: use GET\n', { allow: 'GET, HEAD' })
    try {
      const { contentType, body } = await this.render()
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      sendText(res, 500, `collecting metrics failed: ${describeError(err)}\n`)
    }
  }
}
