import { EventEmitter } from 'node:events'
import debug from 'debug'
import type { SecureStream } from '../crypto'
import { AbortError, TimeoutError } from '../errors'
import { shortId } from '../util/bytes'
import { type SharedCapability, capabilityForId, matchCapabilities } from './capabilities'
import { type CapabilityStreamSession, RlpxStream, whenFlushed } from './capability-stream'
import { DisconnectReason, describeDisconnectReason } from './disconnect-reason'
import {
  RlpxCapabilityNotSharedError,
  RlpxCapabilityStreamError,
  RlpxConnectionLostError,
  RlpxError,
  RlpxMessageTooLargeError,
  RlpxNoSharedCapabilityError,
  RlpxRemoteDisconnectError,
  RlpxSessionClosedError,
  RlpxUnexpectedMessageError,
  RlpxUnknownMessageIdError,
} from './errors'
import { type Hello, decodeHello, encodeHello } from './hello'
import { HelloWait } from './hello-wait'
import { checkHelloIdentity } from './identity'
import { KeepAlive } from './keepalive'
import {
  BASE_PROTOCOL_LENGTH,
  BASE_PROTOCOL_VERSION,
  DISCONNECT_MSG,
  HELLO_MSG,
  MAX_BASE_PROTOCOL_MESSAGE_SIZE,
  PING_MSG,
  PONG_MSG,
  SNAPPY_PROTOCOL_VERSION,
} from './limits'
import { EMPTY_LIST, decodeDisconnectReason } from './message'
import { type ResolvedRlpxOptions, type RlpxMuxerOptions, resolveRlpxOptions } from './options'
import { snappyUncompress } from './snappy'
import { RlpxWire } from './wire'

const log = debug('p2p:rlpx')

/**
 * 'hello': our Hello is out, theirs awaited; 'open': capabilities run;
 * 'closing': a Disconnect was sent or received, or the connection failed,
 * and the channel is going away; 'closed': the channel has closed.
 */
export type RlpxStatus = 'hello' | 'open' | 'closing' | 'closed'

/** How the session ended: the Disconnect reason and who gave it. */
export interface RlpxDisconnect {
  reason: number
  by: 'local' | 'remote'
}

/** The Disconnect reason to send when the session ends with `err`. */
export function disconnectReasonFor(err: unknown): DisconnectReason {
  if (err instanceof RlpxError) return err.reason
  if (err instanceof TimeoutError) return DisconnectReason.TIMEOUT
  if (err instanceof AbortError) return DisconnectReason.DISCONNECT_REQUESTED
  return DisconnectReason.SUBPROTOCOL_ERROR
}

/**
 * The devp2p base protocol ("p2p" v5) over an ECIES secure channel in frame
 * mode, with every shared capability offered as an RlpxStream. Its surface
 * is the one a Connection uses of a muxer: `streams`, `close()`,
 * `abort(err)`, `status`, a 'close' event carrying the reason, plus
 * `start(onStream)` and `openStream(protocols)` in place of mplex's inbound
 * and outbound stream opening.
 *
 * Lifecycle: `RlpxMuxer.handshake()` sends our Hello and resolves once the
 * remote's Hello was checked (node id = authenticated id, at least one
 * shared capability); then Ping/Pong keep-alive runs. Every violation ends
 * the session with a typed RlpxError whose `reason` is the Disconnect sent:
 * message before Hello or a second Hello, unknown message id, message or
 * snappy length over the limit, malformed snappy, Ping flood (PROTOCOL_ERROR);
 * foreign node id (UNEXPECTED_IDENTITY); nothing shared (USELESS_PEER);
 * unanswered Ping (TIMEOUT). A remote Disconnect ends it with
 * RlpxRemoteDisconnectError carrying the remote's reason.
 *
 * Events: 'close' (err?: Error) once the channel closed, `err` unset after
 * our own graceful close; 'pong' (rttMs) for each answered Ping; 'pause' /
 * 'resume' when a congested stream stops / lets the session read frames.
 *
 * Compression: messages after Hello are snappy-compressed when the remote's
 * Hello says p2p v5 or later; before its Hello was read (a Disconnect for a
 * bad first message) they are not, as geth expects. Inbound Disconnects are
 * read either way (devp2p never compresses them).
 */
export class RlpxMuxer extends EventEmitter implements CapabilityStreamSession {
  readonly direction: RlpxMuxerOptions['direction']
  readonly localHello: Hello
  readonly #wire: RlpxWire
  readonly #opts: ResolvedRlpxOptions
  readonly #keepAlive: KeepAlive
  readonly #hello: HelloWait
  #status: RlpxStatus = 'hello'
  #remoteHello: Hello | undefined
  #shared: SharedCapability[] = []
  /** Every shared capability's stream, by offset; created when the Hellos are exchanged. */
  readonly #byOffset = new Map<number, RlpxStream>()
  /** Streams handed out (announced by start() or claimed by openStream()). */
  readonly #open = new Set<RlpxStream>()
  readonly #congested = new Set<RlpxStream>()
  /** Graceful close: stream writes still go out until our Disconnect does. */
  #flushing = false
  #started = false
  #onStream: ((stream: RlpxStream) => void) | undefined
  #closeReason: Error | undefined
  #disconnect: RlpxDisconnect | undefined
  #closeWaiters: Array<() => void> = []

  /**
   * Runs the Hello exchange on `channel` (a SecureStream not yet read as
   * bytes, or one readFirstFrame took the first frame of) and resolves with
   * the open session. Rejects with the RlpxError that ended it (the
   * Disconnect was sent and the channel is closing), the signal's reason, or
   * RlpxRemoteDisconnectError. Invalid options throw RlpxInvalidOptionError
   * before the channel is touched.
   */
  static async handshake(channel: SecureStream, opts: RlpxMuxerOptions): Promise<RlpxMuxer> {
    const muxer = new RlpxMuxer(channel, resolveRlpxOptions(opts), opts.firstFrame, opts.signal)
    await muxer.#hello.done
    return muxer
  }

  private constructor(channel: SecureStream, opts: ResolvedRlpxOptions, firstFrame: Uint8Array | undefined, signal: AbortSignal | undefined) {
    super()
    this.#opts = opts
    this.direction = opts.direction
    this.localHello = {
      protocolVersion: BASE_PROTOCOL_VERSION,
      clientId: opts.clientId,
      capabilities: opts.capabilities.map((c) => ({ name: c.name, version: c.version })),
      listenPort: opts.listenPort,
      nodeId: opts.localId,
    }
    this.#wire = new RlpxWire(channel, opts, {
      message: (id, data) => this.#onMessage(id, data),
      violation: (err) => this.#fail(err),
      end: () => this.#lose(new RlpxConnectionLostError('remote closed the connection without Disconnect')),
      error: (err) => this.#onChannelError(err),
      close: () => this.#onChannelClose(),
    })
    this.#keepAlive = new KeepAlive(opts, {
      sendPing: () => this.#wire.sendControl(PING_MSG, EMPTY_LIST),
      timedOut: (err) => this.#fail(err),
      readPaused: () => this.#wire.readPaused,
    })
    this.#hello = new HelloWait(opts.helloTimeoutMs, signal, (err) => this.#fail(err))
    if (this.#status !== 'hello') return
    if (channel.destroyed) {
      this.#lose(new RlpxConnectionLostError('secure channel closed before the Hello exchange'))
      return
    }
    try {
      this.#wire.open()
      // The first packet on the connection is ours; frames that came before it wait.
      this.#wire.writeMessage(HELLO_MSG, encodeHello(this.localHello))
      this.#wire.start(firstFrame)
    } catch (err) {
      // A channel already read as bytes (FrameModeError), or gone under us: the handshake fails with it.
      this.#fail(err instanceof Error ? err : new Error(String(err)))
    }
  }

  get status(): RlpxStatus {
    return this.#status
  }

  /** The remote's Hello (set once the session is open). */
  get remoteHello(): Hello | undefined {
    return this.#remoteHello
  }

  /** The shared capabilities in message-id order. */
  get capabilities(): readonly SharedCapability[] {
    return this.#shared
  }

  /** True when messages after Hello are snappy-compressed (both sides p2p v5+). */
  get compression(): boolean {
    return this.#wire.compress
  }

  /** Streams handed out and not yet closed. */
  get streams(): RlpxStream[] {
    return [...this.#open].filter((s) => !s.destroyed)
  }

  /** True while a congested stream keeps the session from reading frames. */
  get readPaused(): boolean {
    return this.#wire.readPaused
  }

  /** Set once the session ends: the Disconnect reason and who gave it (unset when the connection was lost). */
  get disconnectReason(): RlpxDisconnect | undefined {
    return this.#disconnect
  }

  /** Why the session ended, unless we closed it gracefully. */
  get closeReason(): Error | undefined {
    return this.#closeReason
  }

  /**
   * Hands out the inbound streams: on the listener (direction 'inbound')
   * every shared capability's stream goes to `onStream` now, as the remote's
   * streams go to a Connection's handler. On the dialer nothing is announced:
   * it claims streams with openStream. Idempotent. Messages that arrive
   * before a stream is handed out wait in it (and, once past its high-water
   * mark, stop the session reading, as any unread stream does).
   */
  start(onStream?: (stream: RlpxStream) => void): void {
    if (this.#started) return
    this.#started = true
    this.#onStream = onStream
    if (this.direction !== 'inbound' || this.#status !== 'open') return
    for (const stream of this.#byOffset.values()) this.#handOut(stream)
  }

  /**
   * The stream of the first of `protocols` (stream ids, e.g. the eth ids
   * highest first) that is a shared capability not handed out yet. Throws
   * RlpxCapabilityNotSharedError (none), RlpxSessionClosedError (not open).
   */
  openStream(protocols: string | readonly string[]): RlpxStream {
    const wanted = typeof protocols === 'string' ? [protocols] : protocols
    if (this.#status !== 'open') throw new RlpxSessionClosedError(`RLPx session is ${this.#status}`)
    for (const protocol of wanted) {
      const cap = this.#shared.find((c) => c.protocol === protocol)
      const stream = cap === undefined ? undefined : this.#byOffset.get(cap.offset)
      if (stream === undefined || this.#open.has(stream) || stream.destroyed) continue
      this.#claim(stream)
      return stream
    }
    throw new RlpxCapabilityNotSharedError(wanted)
  }

  /** Graceful end with DISCONNECT_REQUESTED; see disconnect(). */
  close(): Promise<void> {
    return this.disconnect(DisconnectReason.DISCONNECT_REQUESTED)
  }

  /**
   * Graceful end: every stream's queued writes go out, then Disconnect with
   * `reason`, then our FIN; resolves once the channel closed (the remote
   * gets `disconnectTimeoutMs` to close it, then it is destroyed). Never rejects.
   */
  disconnect(reason: DisconnectReason): Promise<void> {
    if (this.#status === 'closed') return Promise.resolve()
    const done = new Promise<void>((resolve) => this.#closeWaiters.push(resolve))
    if (this.#status === 'hello') {
      this.#fail(new RlpxSessionClosedError(`session disconnected (${describeDisconnectReason(reason)}) during the Hello exchange`), reason)
    } else if (this.#status === 'open') {
      this.#closeGracefully(reason)
    }
    return done
  }

  /** Immediate end: streams destroyed with `err`, Disconnect (reason from `err`) sent, channel ended then destroyed. */
  abort(err: Error): void {
    this.#fail(err)
  }

  // ---- CapabilityStreamSession ----

  sendCapabilityMessage(cap: SharedCapability, code: number, payload: Uint8Array): boolean {
    if (this.#status !== 'open' && !this.#flushing) throw new RlpxSessionClosedError(`RLPx session is ${this.#status}`)
    const limit = Math.min(cap.maxMessageSize, this.#opts.maxMessageSize) - 1
    if (payload.length > limit) throw new RlpxMessageTooLargeError(payload.length, limit, `outbound ${cap.protocol} payload`)
    return this.#wire.writeMessage(cap.offset + code, payload)
  }

  whenWritable(cb: (err?: Error) => void): void {
    this.#wire.whenWritable(cb)
  }

  streamReadable(stream: RlpxStream): void {
    if (!this.#congested.delete(stream) || this.#congested.size > 0 || !this.#wire.readPaused) return
    this.emit('resume')
    this.#wire.resume()
  }

  streamEnded(stream: RlpxStream): void {
    if (this.#status !== 'open') return
    log('%s: %s stream ended, disconnecting', shortId(this.#opts.remoteId), stream.protocol)
    this.#closeGracefully(DisconnectReason.DISCONNECT_REQUESTED)
  }

  streamDestroyed(stream: RlpxStream, err: Error | null): void {
    this.#congested.delete(stream)
    if (this.#status !== 'open') return
    this.#fail(err instanceof RlpxError ? err : new RlpxCapabilityStreamError(`${stream.protocol} stream was reset`, { cause: err ?? undefined }))
  }

  // ---- inbound ----

  #onMessage(id: number, data: Uint8Array): void {
    if (this.#status === 'hello') this.#onHelloPhaseMessage(id, data)
    else if (this.#status === 'open') this.#onSessionMessage(id, data)
  }

  #onHelloPhaseMessage(id: number, data: Uint8Array): void {
    if (id === HELLO_MSG) this.#onHello(data)
    else if (id === DISCONNECT_MSG) this.#onRemoteDisconnect(data)
    else throw new RlpxUnexpectedMessageError(`message 0x${id.toString(16)} before Hello`)
  }

  #onHello(data: Uint8Array): void {
    if (data.length > MAX_BASE_PROTOCOL_MESSAGE_SIZE) throw new RlpxMessageTooLargeError(data.length, MAX_BASE_PROTOCOL_MESSAGE_SIZE, 'Hello')
    const hello = decodeHello(data, this.#opts.remoteId)
    this.#remoteHello = hello
    this.#wire.compress = hello.protocolVersion >= SNAPPY_PROTOCOL_VERSION
    const refusal = checkHelloIdentity(hello.nodeId, this.#opts.remoteId)
    if (refusal !== undefined) throw refusal
    const shared = matchCapabilities(this.#opts.capabilities, hello.capabilities)
    if (shared.length === 0) {
      const theirs = hello.capabilities.map((c) => `${c.name}/${c.version}`).join(', ') || 'none'
      throw new RlpxNoSharedCapabilityError(`no shared capability (remote runs ${theirs})`, hello.capabilities)
    }
    this.#shared = shared
    for (const cap of shared) {
      const stream = new RlpxStream(this, cap, this.direction, this.#opts.streamHighWaterMark)
      // A stream nobody holds yet may be destroyed with the session's error: that must not crash the process.
      stream.on('error', (err: Error) => log('%s: %s stream: %s', shortId(hello.nodeId), cap.protocol, err.message))
      this.#byOffset.set(cap.offset, stream)
    }
    this.#status = 'open'
    log(
      '%s: session open, %s (p2p v%d%s), shared %s',
      shortId(hello.nodeId),
      JSON.stringify(hello.clientId.slice(0, 64)),
      hello.protocolVersion,
      this.#wire.compress ? ', snappy' : '',
      shared.map((c) => c.protocol).join(' '),
    )
    this.#keepAlive.start()
    this.#hello.settle()
  }

  #onSessionMessage(id: number, data: Uint8Array): void {
    switch (id) {
      case HELLO_MSG:
        throw new RlpxUnexpectedMessageError('second Hello')
      case DISCONNECT_MSG:
        this.#onRemoteDisconnect(data)
        return
      case PING_MSG: {
        this.#payload(data, MAX_BASE_PROTOCOL_MESSAGE_SIZE, 'Ping')
        const flood = this.#keepAlive.pingReceived()
        if (flood !== undefined) throw flood
        this.#wire.sendControl(PONG_MSG, EMPTY_LIST)
        return
      }
      case PONG_MSG: {
        this.#payload(data, MAX_BASE_PROTOCOL_MESSAGE_SIZE, 'Pong')
        const rtt = this.#keepAlive.pongReceived()
        if (rtt !== undefined) this.emit('pong', rtt)
        return
      }
    }
    if (id < BASE_PROTOCOL_LENGTH) {
      // Reserved for future base protocol messages: ignored, as geth does.
      log('%s: ignoring reserved base protocol message 0x%s', shortId(this.#opts.remoteId), id.toString(16))
      return
    }
    const cap = capabilityForId(this.#shared, id)
    if (cap === undefined) throw new RlpxUnknownMessageIdError(id)
    const payload = this.#payload(data, Math.min(cap.maxMessageSize, this.#opts.maxMessageSize) - 1, `${cap.protocol} message`)
    const stream = this.#byOffset.get(cap.offset)!
    if (stream.receive(id - cap.offset, payload)) return
    this.#congested.add(stream)
    if (this.#wire.readPaused) return
    this.#wire.pause()
    this.emit('pause')
  }

  /** A message's payload within `limit`: decompressed (its snappy header checked first), or as it came from a v4 peer. */
  #payload(data: Uint8Array, limit: number, what: string): Uint8Array {
    if (this.#wire.compress) return snappyUncompress(data, limit, what)
    if (data.length > limit) throw new RlpxMessageTooLargeError(data.length, limit, what)
    return data
  }

  #onRemoteDisconnect(data: Uint8Array): void {
    const reason = decodeDisconnectReason(data)
    const err = new RlpxRemoteDisconnectError(reason)
    log('%s: %s', shortId(this.#opts.remoteId), err.message)
    this.#enterClosing(err, { reason, by: 'remote' })
    for (const stream of this.#byOffset.values()) stream.remoteEnded()
    this.#hello.settle(err)
    // "If received, a peer should disconnect immediately."
    this.#wire.destroy()
  }

  // ---- ending ----

  #claim(stream: RlpxStream): void {
    this.#open.add(stream)
    stream.once('close', () => this.#open.delete(stream))
  }

  #handOut(stream: RlpxStream): void {
    if (this.#open.has(stream) || stream.destroyed) return
    this.#claim(stream)
    try {
      this.#onStream?.(stream)
    } catch (err) {
      log('%s: stream handler threw: %s', shortId(this.#opts.remoteId), (err as Error).message)
      stream.reset()
    }
  }

  #enterClosing(err: Error | undefined, disconnect: RlpxDisconnect | undefined): void {
    this.#closeReason = err
    this.#disconnect = disconnect
    this.#status = 'closing'
    this.#keepAlive.stop()
  }

  #closeGracefully(reason: DisconnectReason): void {
    log('%s: disconnecting: %s', shortId(this.#opts.remoteId), describeDisconnectReason(reason))
    this.#enterClosing(undefined, { reason, by: 'local' })
    this.#flushing = true
    whenFlushed([...this.#byOffset.values()], this.#opts.disconnectTimeoutMs, () => {
      this.#flushing = false
      if (this.#status === 'closing') this.#wire.disconnect(reason)
    })
  }

  /** Ends the session with `err`: streams destroyed with it, Disconnect sent (the channel is still up). */
  #fail(err: Error, reason = disconnectReasonFor(err)): void {
    if (this.#flushing) {
      // An abort during a graceful close: stop waiting for the streams' writes, Disconnect (with the close's reason) now.
      log('%s: flush cut short: %s', shortId(this.#opts.remoteId), err.message)
      this.#flushing = false
      for (const stream of this.#byOffset.values()) stream.detach(err)
      this.#wire.disconnect(this.#disconnect?.reason ?? reason)
      return
    }
    if (this.#status === 'closing' || this.#status === 'closed') {
      log('%s: after end: %s', shortId(this.#opts.remoteId), err.message)
      return
    }
    log('%s: ending session: %s (%s)', shortId(this.#opts.remoteId), err.message, describeDisconnectReason(reason))
    this.#enterClosing(err, { reason, by: 'local' })
    for (const stream of this.#byOffset.values()) stream.detach(err)
    this.#hello.settle(err)
    this.#wire.disconnect(reason)
  }

  /** The connection went away under us: nothing can be sent. */
  #lose(err: RlpxConnectionLostError): void {
    if (this.#status === 'closing' || this.#status === 'closed') return
    log('%s: %s', shortId(this.#opts.remoteId), err.message)
    this.#enterClosing(err, undefined)
    for (const stream of this.#byOffset.values()) stream.detach(err)
    this.#hello.settle(err)
    this.#wire.destroy()
  }

  #onChannelError(err: Error): void {
    if (this.#status === 'closing' || this.#status === 'closed') {
      log('%s: channel error after end: %s', shortId(this.#opts.remoteId), err.message)
      return
    }
    this.#lose(new RlpxConnectionLostError(`secure channel failed: ${err.message}`, { cause: err }))
  }

  #onChannelClose(): void {
    if (this.#status === 'closed') return
    if (this.#status !== 'closing') this.#lose(new RlpxConnectionLostError('secure channel closed without Disconnect'))
    this.#status = 'closed'
    this.#flushing = false
    // Streams still attached (graceful ends): readable ends after what arrived, writable ends.
    for (const stream of this.#byOffset.values()) stream.detach(undefined)
    for (const resolve of this.#closeWaiters.splice(0)) resolve()
    this.emit('close', this.#closeReason)
  }
}
