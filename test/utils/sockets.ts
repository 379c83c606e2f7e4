import type { EventEmitter } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'

/**
 * Small TCP helpers for the reliability tests: a recording server, a recording
 * client, and waits that are driven by events and bounded by a timeout (never
 * a fixed sleep).
 */

/** Any emitter with on/off (typed emitters such as devp2p's included). */
interface TypedEmitterLike {
  on(event: never, listener: never): unknown
  off(event: never, listener: never): unknown
}

/** Bound on every wait in these tests: only reached when something is broken. */
export const WAIT_TIMEOUT_MS = 20_000

/**
 * Resolves once `predicate()` holds, re-checking whenever one of `events` fires
 * on `emitter`; rejects after `timeoutMs` with `what` in the message. Every
 * listener and the timer are removed when it settles.
 */
export function waitUntil(
  emitter: Pick<EventEmitter, 'on' | 'off'> | TypedEmitterLike,
  events: readonly string[],
  predicate: () => boolean,
  what: string,
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<void> {
  if (predicate()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!predicate()) return
      done()
      resolve()
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
    }, timeoutMs)
    const done = (): void => {
      clearTimeout(timer)
      for (const e of events) (emitter as EventEmitter).off(e, check)
    }
    for (const e of events) (emitter as EventEmitter).on(e, check)
  })
}

/** Rejects after `ms` unless `p` settles first; the timer is always cleared. */
export async function within<T>(p: Promise<T>, what: string, ms = WAIT_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A socket whose every received byte is kept, with event-driven waits on what it received. */
export class RecordedSocket {
  readonly socket: Socket
  private readonly chunks: Buffer[] = []
  private length = 0
  ended = false
  closed = false
  error: Error | undefined

  constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.length += chunk.length
    })
    socket.on('end', () => {
      this.ended = true
    })
    socket.on('error', (err) => {
      this.error ??= err
    })
    socket.on('close', () => {
      this.closed = true
    })
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks, this.length)
  }

  get receivedBytes(): number {
    return this.length
  }

  waitForBytes(n: number): Promise<void> {
    return waitUntil(this.socket, ['data', 'close'], () => this.length >= n || this.closed, `${n} bytes`).then(() => {
      if (this.length < n) throw new Error(`socket closed after ${this.length} of ${n} bytes`)
    })
  }

  waitForEnd(): Promise<void> {
    return waitUntil(this.socket, ['end', 'close'], () => this.ended || this.closed, 'end of stream')
  }

  waitForClose(): Promise<void> {
    return waitUntil(this.socket, ['close'], () => this.closed, 'socket close')
  }
}

/** A TCP server on 127.0.0.1 (ephemeral port) recording every accepted socket. */
export class RecordingServer {
  readonly accepted: RecordedSocket[] = []
  private readonly server: net.Server

  private constructor(opts: net.ServerOpts) {
    this.server = net.createServer(opts, (socket) => {
      this.accepted.push(new RecordedSocket(socket))
      this.server.emit('recorded')
    })
  }

  static async start(opts: net.ServerOpts = {}): Promise<RecordingServer> {
    const s = new RecordingServer(opts)
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject)
      s.server.listen(0, '127.0.0.1', () => {
        s.server.off('error', reject)
        resolve()
      })
    })
    return s
  }

  address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: (this.server.address() as AddressInfo).port }
  }

  /** The `index`-th accepted socket, once it exists. */
  async nth(index: number): Promise<RecordedSocket> {
    await waitUntil(this.server, ['recorded'], () => this.accepted.length > index, `accepted socket #${index}`)
    return this.accepted[index]!
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const r of this.accepted) r.socket.destroy()
    await Promise.all(this.accepted.map((r) => r.waitForClose()))
    await closed
  }
}

/** Connects to `addr` and records what the socket receives. */
export async function connectRecorded(addr: { host: string; port: number }, opts: { allowHalfOpen?: boolean } = {}): Promise<RecordedSocket> {
  const socket = net.connect({ host: addr.host, port: addr.port, allowHalfOpen: opts.allowHalfOpen })
  const recorded = new RecordedSocket(socket)
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    }),
    `connect to ${addr.host}:${addr.port}`,
  )
  return recorded
}

/** Writes `data` and resolves once the socket flushed it to the kernel. */
export function writeFlushed(socket: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())))
}

/**
 * Resolves with the names of libuv resources above `baseline` once they are
 * gone (empty array), or what is still there after a bounded number of
 * event-loop turns (closed handles leave the list only in the close phase).
 */
export async function resourcesAbove(baseline: readonly string[], turns = 100): Promise<string[]> {
  const count = (list: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>()
    for (const r of list) m.set(r, (m.get(r) ?? 0) + 1)
    return m
  }
  const base = count(baseline)
  let extra: string[] = []
  for (let i = 0; i < turns; i++) {
    extra = []
    for (const [name, n] of count(process.getActiveResourcesInfo())) {
      for (let k = base.get(name) ?? 0; k < n; k++) extra.push(name)
    }
    if (extra.length === 0) return extra
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return extra
}
