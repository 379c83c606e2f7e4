import net, { type AddressInfo } from 'node:net'

/** Every bench runs on loopback only. */
export const HOST = '127.0.0.1'

/**
 * Cleanups run last-in first-out; a bench registers one per resource as it
 * opens it and runs them all in `finally`, so nothing outlives the bench.
 */
export class Closer {
  private readonly fns: Array<() => unknown> = []

  add(fn: () => unknown): void {
    this.fns.push(fn)
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} cleanup(s) failed`)
  }
}

/** Destroys `socket` and resolves once it reported 'close'. */
export function destroySocket(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve()
  return new Promise((resolve) => {
    socket.once('close', () => resolve())
    socket.destroy()
  })
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) resolve()
    else server.close(() => resolve())
  })
}

/** A listening TCP server on an ephemeral loopback port. */
export async function listenTcp(onSocket: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ noDelay: true }, onSocket)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as AddressInfo).port }
}

export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port, noDelay: true })
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}

/** A connected socket pair over loopback TCP; `close` destroys both. */
export async function tcpPair(): Promise<{ dialer: net.Socket; listener: net.Socket; close(): Promise<void> }> {
  let accept!: (s: net.Socket) => void
  const accepted = new Promise<net.Socket>((resolve) => (accept = resolve))
  const { server, port } = await listenTcp((s) => accept(s))
  // Stop accepting now; the server reports 'close' only once the pair is gone, so do not wait for it here.
  const serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()))
  try {
    const [dialer, listener] = await Promise.all([connectTcp(port), accepted])
    server.close()
    return {
      dialer,
      listener,
      close: async () => {
        await Promise.all([destroySocket(dialer), destroySocket(listener)])
        await serverClosed
      },
    }
  } catch (err) {
    server.close()
    throw err
  }
}

/**
 * An ephemeral port that was free a moment ago, for servers that cannot
 * report the port they bound (devp2p's RLPx). The gap before it is rebound
 * is the only race; on loopback with ephemeral ports it is negligible.
 */
export async function freePort(): Promise<number> {
  const { server, port } = await listenTcp((s) => s.destroy())
  await closeServer(server)
  return port
}

/** Writes `total` bytes of `chunk` repeated (the last one cut), honouring backpressure. */
export async function writeRepeated(
  out: { write(b: Uint8Array): boolean; once(e: 'drain', f: () => void): unknown },
  chunk: Uint8Array,
  total: number,
): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk.length) {
    const part = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent)
    if (!out.write(part)) await new Promise<void>((resolve) => out.once('drain', resolve))
  }
}

/** Deterministic incompressible bytes (xorshift), so no layer can win by compressing (devp2p uses snappy). */
export function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
