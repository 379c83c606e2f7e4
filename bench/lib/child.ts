import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

import { isBun } from './env'
import { withTimeout } from './rounds'

/**
 * A bench script run in a child process of the same runtime (under Node a
 * .ts script inherits tsx's loader flags and a compiled .mjs one runs as it
 * is; Bun runs TypeScript itself), talking JSON lines: commands on stdin, one
 * reply line each on stdout. Node children get --expose-gc so they can
 * measure memory after a full collection.
 */
export class ChildScript {
  private readonly child: ChildProcess
  private readonly replies: Array<Record<string, unknown>> = []
  private waiting: ((r: Record<string, unknown>) => void) | undefined
  private exited = false
  private readonly closed: Promise<void>
  private stderr = ''

  constructor(script: string, args: string[]) {
    const loader = script.endsWith('.ts') ? process.execArgv : []
    const flags = isBun() ? [] : [...loader, '--expose-gc']
    this.child = spawn(process.execPath, [...flags, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()))
    this.child.once('exit', () => {
      this.exited = true
      this.waiting?.({ error: `child exited: ${this.stderr.slice(-2000)}` })
    })
    this.child.stderr?.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000)
    })
    const lines = createInterface({ input: this.child.stdout! })
    lines.on('line', (line) => {
      let msg: Record<string, unknown>
      try {
        msg = JSON.parse(line) as Record<string, unknown>
      } catch {
        return // not a reply (a stray log line)
      }
      const w = this.waiting
      if (w === undefined) this.replies.push(msg)
      else {
        this.waiting = undefined
        w(msg)
      }
    })
  }

  /** The next reply line; rejects on an `error` reply, on exit, or after `timeoutMs`. */
  async next(timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const queued = this.replies.shift()
    const msg =
      queued ??
      (this.exited
        ? { error: `child exited: ${this.stderr.slice(-2000)}` }
        : await withTimeout(new Promise<Record<string, unknown>>((resolve) => (this.waiting = resolve)), timeoutMs, what))
    if (typeof msg.error === 'string') throw new Error(`${what}: ${msg.error}`)
    return msg
  }

  async request(line: string, timeoutMs: number): Promise<Record<string, unknown>> {
    this.child.stdin!.write(`${line}\n`)
    return this.next(timeoutMs, line)
  }

  /** Asks the child to exit; kills it if it does not within `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.exited) this.child.stdin!.end('exit\n')
    try {
      await withTimeout(this.closed, timeoutMs, 'child exit')
    } catch {
      this.child.kill('SIGKILL')
      await this.closed
    }
  }
}
