import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import * as secp from '@noble/secp256k1'
import { secureInbound, secureOutbound, type SecureConnection, type SecureOptions, type SecureOutboundOptions } from '../../../src/p2p/crypto/index'

/** A fresh node key and its 64-byte id. */
export function nodeKey(): { privateKey: Uint8Array; id: Uint8Array } {
  const privateKey = secp.utils.randomSecretKey()
  return { privateKey, id: secp.getPublicKey(privateKey, false).subarray(1) }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

type Tap = (chunk: Buffer) => void

/**
 * One end of an in-memory byte pipe. Writes are delivered to the peer's
 * readable side; a write is acknowledged only once the peer's buffer accepts
 * more (push() returned true) or the peer reads, so backpressure is real.
 * A corked batch (_writev) arrives at the peer as one chunk, like one TCP read.
 */
export class PipeEnd extends Duplex {
  peer!: PipeEnd
  /** Sees every chunk this end writes, as written. */
  tap: Tap | undefined
  /** Replaces each chunk this end writes before the peer sees it (corruption tests). */
  transform: ((chunk: Buffer) => Buffer) | undefined
  /** Counts chunks the peer received from this end. */
  chunksWritten = 0
  #pendingCb: ((err?: Error | null) => void) | undefined

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#deliver(chunk, cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#deliver(Buffer.concat(chunks.map((c) => c.chunk)), cb)
  }

  #deliver(chunk: Buffer, cb: (err?: Error | null) => void): void {
    this.tap?.(chunk)
    const data = this.transform ? this.transform(chunk) : chunk
    if (this.peer.destroyed) return cb(new Error('peer destroyed'))
    this.chunksWritten++
    if (this.peer.push(data)) cb()
    else this.peer.#pendingCb = cb
  }

  override _read(): void {
    const cb = this.#pendingCb
    this.#pendingCb = undefined
    cb?.()
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.#pushEof()
    cb()
  }

  #eof = false
  #pushEof(): void {
    if (this.#eof || this.destroyed) return
    this.#eof = true
    this.push(null)
  }

  /** Like closing a TCP socket: the peer still reads what was sent, then EOF; an error resets it. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const cbPending = this.#pendingCb
    this.#pendingCb = undefined
    cbPending?.(new Error('destroyed'))
    if (err !== null) this.peer.destroy()
    else this.peer.#pushEof()
    cb(err)
  }
}

/** Two cross-connected in-memory Duplexes (a's writes are b's reads and vice versa). */
export function duplexPair(opts: { highWaterMark?: number } = {}): [PipeEnd, PipeEnd] {
  const hwm = opts.highWaterMark ?? 16 * 1024
  const a = new PipeEnd({ highWaterMark: hwm, allowHalfOpen: true })
  const b = new PipeEnd({ highWaterMark: hwm, allowHalfOpen: true })
  a.peer = b
  b.peer = a
  return [a, b]
}

/** A TCP server on 127.0.0.1:0 and a connected client socket, plus cleanup. */
export async function tcpPair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  const srv: Server = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  const accepted = once(srv, 'connection') as Promise<[Socket]>
  const client = connect(port, '127.0.0.1')
  const [[server]] = await Promise.all([accepted, once(client, 'connect')])
  const close = async (): Promise<void> => {
    client.destroy()
    server.destroy()
    await new Promise<void>((resolve) => srv.close(() => resolve()))
  }
  return { client, server, close }
}

/** Rejects after `ms` unless `p` settles first; the timer is always cleared. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
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

/** Reads exactly `n` bytes from a readable stream (then stops listening). */
export function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  if (n === 0) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let got = 0
    const onData = (chunk: Buffer): void => {
      parts.push(chunk)
      got += chunk.length
      if (got >= n) {
        cleanup()
        const all = Buffer.concat(parts)
        if (all.length > n) stream.unshift(all.subarray(n))
        resolve(all.subarray(0, n))
      }
    }
    const onEnd = (): void => {
      cleanup()
      reject(new Error(`stream ended after ${got} of ${n} bytes`))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      stream.pause()
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.resume()
  })
}

/** Resolves with the error a stream is destroyed with (rejects if it closes cleanly). */
export function errorOf(stream: Duplex): Promise<Error> {
  return new Promise((resolve, reject) => {
    if (stream.errored) return resolve(stream.errored as Error)
    stream.once('error', resolve)
    stream.once('close', () => {
      if (stream.errored) resolve(stream.errored as Error)
      else reject(new Error('stream closed without an error'))
    })
  })
}

export function closed(stream: Duplex): Promise<void> {
  if (stream.closed) return Promise.resolve()
  return once(stream, 'close').then(() => undefined)
}

export { randomBytes }

/** Keys of two nodes and an in-memory connection between them, secured (a dials b). */
export async function securedPair(
  opts: { highWaterMark?: number; outbound?: Partial<SecureOutboundOptions>; inbound?: Partial<SecureOptions> } = {},
): Promise<{
  x: PipeEnd
  y: PipeEnd
  a: SecureConnection
  b: SecureConnection
  keyA: ReturnType<typeof nodeKey>
  keyB: ReturnType<typeof nodeKey>
}> {
  const keyA = nodeKey()
  const keyB = nodeKey()
  const [x, y] = duplexPair({ highWaterMark: opts.highWaterMark })
  const [a, b] = await Promise.all([
    secureOutbound(x, { privateKey: keyA.privateKey, remoteId: keyB.id, ...opts.outbound }),
    secureInbound(y, { privateKey: keyB.privateKey, ...opts.inbound }),
  ])
  return { x, y, a, b, keyA, keyB }
}

/**
 * Lets every already-scheduled callback run (in-memory streams move data with
 * nextTick/microtasks): event-loop turns, not wall-clock time.
 */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
