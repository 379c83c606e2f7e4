import type { Duplex } from 'node:stream'
import { handleProtocol } from './multistream/handle'
import { selectProtocol } from './multistream/select'
import type { MuxedStream } from './muxed-stream'
import { MPLEX_PROTOCOL_ID, MplexMuxer, type MplexMuxerOptions } from './muxer'
import { type DisconnectReason, RLPX_MULTIPLEXER, type RlpxMuxer } from './rlpx'
import { StreamNegotiationError } from './stack-errors'
import { throwIfAborted } from './util/abort'

/**
 * What carries a Connection's streams, behind one interface: mplex (streams
 * opened at will, each negotiated with multistream-select) or an RLPx
 * session (one stream per shared capability, its protocol fixed by the
 * Hellos). The Connection keeps the state machine, limits and events; this
 * is only what differs between the two.
 */
export interface ConnectionMuxer {
  /** `Connection.multiplexer`: `'/mplex/6.7.0'` or `'rlpx'`. */
  readonly multiplexer: string
  readonly streams: MuxedStream[]
  /** True once the muxer has finished (its 'close' was emitted). */
  readonly closed: boolean
  /**
   * True when abort() and close() end the channel themselves and the socket
   * must not be destroyed under them: an RLPx session first writes its
   * Disconnect, then destroys the channel within its disconnectTimeoutMs.
   */
  readonly endsChannel: boolean
  /** The remote's client id, when the carrier has one (RLPx Hello). */
  readonly remoteClientId: string | undefined
  /** Why the muxer is ending, as soon as it knows (RLPx: the Disconnect sent or received); mplex reports through 'close' only. */
  readonly failure: Error | undefined
  /**
   * Opens an outbound stream for the first of `proposals` the remote takes;
   * `onOpened` sees it before any negotiation. On failure the stream is reset.
   */
  openStream(proposals: readonly string[], signal: AbortSignal, onOpened: (s: MuxedStream) => void): Promise<{ stream: MuxedStream; protocol: string }>
  /** The protocol of an inbound stream: negotiated among `offered` (mplex), or the one it was created with (RLPx). */
  acceptStream(stream: MuxedStream, offered: readonly string[], signal: AbortSignal): Promise<string>
  /** Graceful end; `reason` is what an RLPx remote is told (mplex has no Disconnect). */
  close(reason: DisconnectReason): Promise<void>
  abort(err: Error): void
  onClose(listener: (err?: Error) => void): void
}

/** Options passed through to the MplexMuxer of every connection (the Connection supplies `onStream`). */
export type MuxerOptions = Omit<MplexMuxerOptions, 'onStream'>

/** mplex over the secure channel: the muxer of two modular-stack nodes. */
export class MplexConnectionMuxer implements ConnectionMuxer {
  readonly multiplexer = MPLEX_PROTOCOL_ID
  readonly endsChannel = false
  readonly remoteClientId = undefined
  readonly failure = undefined
  readonly #muxer: MplexMuxer

  constructor(channel: Duplex, opts: MuxerOptions, onStream: (s: MuxedStream) => void) {
    this.#muxer = new MplexMuxer(channel, { ...opts, onStream })
  }

  get streams(): MuxedStream[] {
    return this.#muxer.streams
  }

  get closed(): boolean {
    return this.#muxer.status === 'closed'
  }

  async openStream(proposals: readonly string[], signal: AbortSignal, onOpened: (s: MuxedStream) => void): Promise<{ stream: MuxedStream; protocol: string }> {
    const stream = this.#muxer.newStream()
    onOpened(stream)
    try {
      const result = await selectProtocol(stream, [...proposals], signal)
      if (result.stream !== stream) throw new StreamNegotiationError(new Error('multistream-select returned a wrapper instead of the mplex stream'))
      return { stream, protocol: result.protocol }
    } catch (err) {
      if (!stream.destroyed) stream.reset()
      throw err
    }
  }

  async acceptStream(stream: MuxedStream, offered: readonly string[], signal: AbortSignal): Promise<string> {
    const result = await handleProtocol(stream, [...offered], signal)
    if (result.stream !== stream) throw new StreamNegotiationError(new Error('multistream-select returned a wrapper instead of the mplex stream'))
    return result.protocol
  }

  close(): Promise<void> {
    return this.#muxer.close()
  }

  abort(err: Error): void {
    this.#muxer.abort(err)
  }

  onClose(listener: (err?: Error) => void): void {
    this.#muxer.on('close', listener)
  }
}

/**
 * An RLPx session (the Upgrader ran its Hello exchange) as a Connection's
 * muxer. Its capability streams need no negotiation; the listener's are
 * announced on the next macrotask, so whoever received the Connection from
 * the upgrade ('connection' event, a resolved dial) holds it by the time its
 * first stream reaches a handler, as with an mplex stream, whose negotiation
 * takes a round trip.
 */
export class RlpxConnectionMuxer implements ConnectionMuxer {
  readonly multiplexer = RLPX_MULTIPLEXER
  readonly endsChannel = true
  readonly #session: RlpxMuxer
  #announce: ReturnType<typeof setImmediate> | undefined

  constructor(session: RlpxMuxer, onStream: (s: MuxedStream) => void) {
    this.#session = session
    this.#announce = setImmediate(() => {
      this.#announce = undefined
      session.start(onStream)
    })
    session.once('close', () => {
      if (this.#announce !== undefined) clearImmediate(this.#announce)
      this.#announce = undefined
    })
  }

  get streams(): MuxedStream[] {
    return this.#session.streams
  }

  get closed(): boolean {
    return this.#session.status === 'closed'
  }

  get remoteClientId(): string | undefined {
    return this.#session.remoteHello?.clientId
  }

  get failure(): Error | undefined {
    return this.#session.closeReason
  }

  async openStream(proposals: readonly string[], signal: AbortSignal, onOpened: (s: MuxedStream) => void): Promise<{ stream: MuxedStream; protocol: string }> {
    throwIfAborted(signal, 'newStream')
    const stream = this.#session.openStream(proposals)
    onOpened(stream)
    return { stream, protocol: stream.protocol }
  }

  async acceptStream(stream: MuxedStream): Promise<string> {
    return stream.protocol!
  }

  close(reason: DisconnectReason): Promise<void> {
    return this.#session.disconnect(reason)
  }

  abort(err: Error): void {
    this.#session.abort(err)
  }

  onClose(listener: (err?: Error) => void): void {
    this.#session.on('close', listener)
  }
}
