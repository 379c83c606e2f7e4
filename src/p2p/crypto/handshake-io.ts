import type { Duplex } from 'node:stream'
import { concatBytes } from '../util/bytes'
import { TimeoutError } from '../errors'
import { HandshakeAbortedError, HandshakeClosedError } from './errors'
import type { OpenedPacket } from './packets'

const EMPTY = new Uint8Array(0)

type Parse = (buf: Uint8Array) => OpenedPacket | undefined

interface Waiter {
  parse: Parse
  resolve: (p: OpenedPacket) => void
  reject: (err: unknown) => void
}

/**
 * The socket side of one handshake: collects incoming bytes, hands out whole
 * packets, and turns the AbortSignal (which carries the handshake's deadline)
 * and a failing socket into one typed failure that every pending wait
 * rejects with. A deadline's timeout error passes through as it is, naming
 * whichever layer set the deadline; any other abort becomes
 * HandshakeAbortedError with the reason as its cause.
 *
 * While it runs, the socket flows into this object's buffer. `finish()` pauses
 * the socket, detaches every listener and returns the bytes read past the last
 * packet, so the frame layer can start with them.
 */
export class HandshakeIo {
  readonly #socket: Duplex
  readonly #signal: AbortSignal | undefined
  #buf: Uint8Array = EMPTY
  #waiter: Waiter | undefined
  #failure: Error | undefined
  readonly #failed: Promise<never>
  #rejectFailed!: (err: Error) => void

  constructor(socket: Duplex, signal: AbortSignal | undefined) {
    this.#socket = socket
    this.#signal = signal
    this.#failed = new Promise<never>((_, reject) => {
      this.#rejectFailed = reject
    })
    this.#failed.catch(() => {}) // observed through race(); never an unhandled rejection
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (this.#signal?.aborted === true) this.#onAbort()
    else if (socket.destroyed) this.#onClose()
  }

  /** Resolves with the next packet `parse` accepts; rejects on parse errors or any failure. */
  readPacket(parse: Parse): Promise<OpenedPacket> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise<OpenedPacket>((resolve, reject) => {
      this.#waiter = { parse, resolve, reject }
      this.#tryParse()
      if (this.#waiter !== undefined) this.#socket.resume()
    })
  }

  /** `p`, unless the handshake fails first. */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#failed])
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes)
  }

  /** Stops reading and detaches; returns the bytes received after the last packet. */
  finish(): Uint8Array {
    this.#socket.pause()
    this.#detach()
    const rest = this.#buf
    this.#buf = EMPTY
    return rest
  }

  /** Detaches after a failure. The caller destroys the socket. */
  abandon(): void {
    this.#detach()
    this.#buf = EMPTY
  }

  #detach(): void {
    const s = this.#socket
    s.off('data', this.#onData)
    s.off('end', this.#onEnd)
    s.off('error', this.#onError)
    s.off('close', this.#onClose)
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }

  #tryParse(): void {
    const w = this.#waiter
    if (w === undefined) return
    let opened: OpenedPacket | undefined
    try {
      opened = w.parse(this.#buf)
    } catch (err) {
      this.#waiter = undefined
      w.reject(err)
      return
    }
    if (opened === undefined) return
    this.#waiter = undefined
    // views into #buf are safe to keep: #buf is only ever replaced, never written
    this.#buf = this.#buf.subarray(opened.packet.length)
    // nothing more is read until the next packet is wanted or the frame layer takes over
    this.#socket.pause()
    w.resolve(opened)
  }

  #onData = (chunk: Uint8Array): void => {
    this.#buf = this.#buf.length === 0 ? chunk : concatBytes(this.#buf, chunk)
    this.#tryParse()
  }

  #onEnd = (): void => this.#fail(new HandshakeClosedError('remote ended the connection during the handshake'))
  #onClose = (): void => this.#fail(new HandshakeClosedError('socket closed during the handshake'))
  #onError = (err: Error): void => this.#fail(new HandshakeClosedError(`socket error during the handshake: ${err.message}`, err))
  #onAbort = (): void => {
    const reason: unknown = this.#signal?.reason
    this.#fail(reason instanceof TimeoutError ? reason : new HandshakeAbortedError(reason))
  }

  #fail(err: Error): void {
    if (this.#failure !== undefined) return
    this.#failure = err
    this.#rejectFailed(err)
    const w = this.#waiter
    this.#waiter = undefined
    w?.reject(err)
  }
}
