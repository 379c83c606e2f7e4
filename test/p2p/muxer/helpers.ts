import { EventEmitter, once } from 'node:events'
import { createServer, type Server, type Socket, connect } from 'node:net'
import { Duplex } from 'node:stream'

/**
 * In-memory byte pipe with TCP-like backpressure: a write completes only when
 * the other end's readable buffer has room, so a reader that stops reading
 * eventually makes the writer's write() return false.
 */
class PipeEnd extends Duplex {
  peer!: PipeEnd
  /** Callback of the peer's write that is waiting for us to read. */
  blockedWrite: ((err?: Error | null) => void) | undefined

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    if (peer.destroyed) {
      cb(new Error('pipe peer destroyed'))
      return
    }
    if (peer.push(chunk)) cb()
    else peer.blockedWrite = cb
  }

  override _read(): void {
    const cb = this.blockedWrite
    this.blockedWrite = undefined
    cb?.()
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null)
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const blocked = this.blockedWrite
    this.blockedWrite = undefined
    blocked?.(new Error('pipe peer destroyed'))
    if (!this.peer.destroyed) this.peer.destroy()
    cb(err)
  }
}

export function duplexPair(highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const a = new PipeEnd({ highWaterMark, allowHalfOpen: true })
  const b = new PipeEnd({ highWaterMark, allowHalfOpen: true })
  a.peer = b
  b.peer = a
  return [a, b]
}

/** Resolves with the event's arguments, rejects on 'error' or after `ms`. */
export async function waitFor<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  ms = 10_000,
): Promise<T> {
  const signal = AbortSignal.timeout(ms)
  try {
    return (await once(emitter, event, { signal })) as T
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new Error(`timed out after ${ms} ms waiting for '${event}'`)
    throw err
  }
}

/** Resolves with the error the stream is destroyed with (rejects if it ends cleanly or after `ms`). */
export function waitForError(emitter: EventEmitter, ms = 10_000): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`timed out after ${ms} ms waiting for 'error'`))
    }, ms)
    const onError = (err: Error): void => {
      cleanup()
      resolve(err)
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      emitter.off('error', onError)
    }
    emitter.on('error', onError)
  })
}

/**
 * Reads a stream to its end; rejects on error or after `ms`. Uses events rather
 * than for-await, which would destroy the Duplex (and its writable side) at the end.
 */
export function readAll(stream: Duplex, ms = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`readAll timed out after ${ms} ms`))
    }, ms)
    const onData = (c: Buffer): void => {
      chunks.push(c)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      // Keep errors after the read from crashing the process: the test saw what it needed.
      stream.on('error', () => {})
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
  })
}

/** Resolves true on 'drain', false once the stream closed; leaves no listener behind. */
export function drainOrClose(stream: Duplex): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => done(true)
    const onClose = (): void => done(false)
    const done = (v: boolean): void => {
      stream.off('drain', onDrain)
      stream.off('close', onClose)
      resolve(v)
    }
    stream.on('drain', onDrain)
    stream.on('close', onClose)
  })
}

/** Writes `data` in `chunkSize` pieces honouring backpressure, then ends the stream. */
export async function writeAll(stream: Duplex, data: Uint8Array, chunkSize = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunkSize) {
    if (!stream.write(data.subarray(off, off + chunkSize)) && !(await drainOrClose(stream))) {
      throw new Error('stream closed while writing')
    }
  }
  stream.end()
}

/** Pipes every byte of the stream back to it, then ends it. */
export function echo(stream: Duplex): void {
  stream.on('error', () => {})
  stream.pipe(stream)
}

export function randomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** A connected TCP socket pair on 127.0.0.1 and a `close()` that tears everything down. */
export async function tcpPair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  const srv: Server = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  const accepted = once(srv, 'connection') as Promise<[Socket]>
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  const [server] = await accepted
  const close = async (): Promise<void> => {
    client.destroy()
    server.destroy()
    await new Promise<void>((resolve) => srv.close(() => resolve()))
  }
  return { client, server, close }
}

/** A promise with its resolve/reject exposed (Promise.withResolvers is ES2024; the project targets ES2023). */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
