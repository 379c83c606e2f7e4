/**
 * The real Prometheus tools (Debian's `prometheus` package: `promtool` and the
 * server) for the metrics tests. `.ci/run` installs the package when it is
 * missing and sets REQUIRE_PROMETHEUS=1, so in CI a missing binary fails the
 * tests; elsewhere the tests that need it are skipped with the reason.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/** Set by .ci/run: the tools must be there. */
export const PROMETHEUS_REQUIRED = process.env.REQUIRE_PROMETHEUS === '1'

/** Where Debian puts them, searched after PATH. */
const EXTRA_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/sbin']

/** Absolute path of executable `name`, or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** Whether tests needing `name` run: present, or required (and then failing loudly when absent). */
export function toolAvailable(name: string): boolean {
  return PROMETHEUS_REQUIRED || findBinary(name) !== undefined
}

function requireBinary(name: string): string {
  const path = findBinary(name)
  if (path === undefined) throw new Error(`${name} not found on PATH or in ${EXTRA_DIRS.join(', ')}: install Debian's prometheus package (apt-get install prometheus)`)
  return path
}

/** `promtool check metrics` over an exposition text: its exit code and what it printed. */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const r = spawnSync(requireBinary('promtool'), ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 })
  if (r.error !== undefined) throw r.error
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}

/** A free TCP port on loopback (bound, then released for the child to take). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface PrometheusServer {
  /** `http://127.0.0.1:port` of its web API. */
  url: string
  /** GET /api/v1/<path> parsed. */
  api(path: string): Promise<{ status: string; data: unknown }>
  stop(): Promise<void>
}

/** Log line the server prints once its web API answers. */
const READY_LINE = 'Server is ready to receive web requests'
const START_TIMEOUT_MS = 30_000

/**
 * A Prometheus server of its own (temp config and data dir, loopback web port) scraping
 * `target` ('host:port', path /metrics) every `scrapeIntervalS`. Resolves once it reports
 * ready; stop() ends the process and removes the directory.
 */
export async function startPrometheus(target: string, scrapeIntervalS = 1): Promise<PrometheusServer> {
  const binary = requireBinary('prometheus')
  const dir = await mkdtemp(join(tmpdir(), 'ethp2p-prometheus-'))
  const configFile = join(dir, 'prometheus.yml')
  await writeFile(
    configFile,
    [
      'global:',
      `  scrape_interval: ${scrapeIntervalS}s`,
      `  scrape_timeout: ${scrapeIntervalS}s`,
      'scrape_configs:',
      '  - job_name: ethp2p',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const child = spawn(binary, [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await untilReady(child)
  } catch (err) {
    await stop()
    throw err
  }
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    async api(path) {
      const res = await fetch(`${url}/api/v1/${path}`)
      return (await res.json()) as { status: string; data: unknown }
    },
    stop,
  }
}

function untilReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = ''
    const onData = (chunk: Buffer): void => {
      log += chunk.toString()
      if (!log.includes(READY_LINE)) return
      done()
      resolve()
    }
    const onExit = (code: number | null): void => {
      done()
      reject(new Error(`prometheus exited (${code}) before it was ready:\n${log.slice(-2000)}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`prometheus not ready within ${START_TIMEOUT_MS} ms:\n${log.slice(-2000)}`))
    }, START_TIMEOUT_MS)
    const done = (): void => {
      clearTimeout(timer)
      child.stderr?.off('data', onData)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
      // Keep draining its output so a full pipe never blocks it.
      child.stderr?.resume()
      child.stdout?.resume()
    }
    child.stderr?.on('data', onData)
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })
}

/** One sample of an instant-query result. */
export interface PromSample {
  metric: Record<string, string>
  value: [number, string]
}

/** How often queryUntil asks again: Prometheus has no push notification for "scraped". */
const QUERY_RETRY_MS = 250

/**
 * Runs PromQL `query` until its result passes `accept` (the first scrapes take a moment),
 * bounded by `timeoutMs`; resolves with that result.
 */
export async function queryUntil(server: PrometheusServer, query: string, accept: (samples: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    const res = await server.api(`query?query=${encodeURIComponent(query)}`)
    last = res
    const samples = res.status === 'success' ? ((res.data as { result: PromSample[] }).result ?? []) : []
    if (accept(samples)) return samples
    if (Date.now() > deadline) throw new Error(`query ${query} not satisfied within ${timeoutMs} ms; last answer ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, QUERY_RETRY_MS))
  }
}

/** `promtool check rules` over recording rules made of `exprs`: PromQL syntax checked by Prometheus itself. */
export async function promtoolCheckExpressions(exprs: readonly string[]): Promise<{ status: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ethp2p-promql-'))
  try {
    const file = join(dir, 'rules.yml')
    const rules = exprs.map((e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e)}`).join('\n')
    await writeFile(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`)
    const r = spawnSync(requireBinary('promtool'), ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 })
    if (r.error !== undefined) throw r.error
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
