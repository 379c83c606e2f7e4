import type { Input } from '@ethereumjs/rlp'
import debug from 'debug'

import { ClientError, describeError } from '../../errors'
import { DEFAULT_MAX_MESSAGE_LENGTH, LengthPrefixedDecoder, MessageTooLargeError, uvarintLength, writeMessage } from '../../../p2p'

import { EthEncodeError, PeerDisconnectedError } from './errors'
import { EthCode, type EthStatus, encodeStatus } from './ethmessages'
import { encodeRlp } from './rlpencode'
import { Sender, type SenderOptions } from './sender'

import type { Duplex } from 'node:stream'

const log = debug('client:eth:stream')

/**
 * Largest ETH message (code byte + RLP payload) accepted or sent on a stream:
 * the wire format's 10 MiB (docs/ARCHITECTURE.md). Big BlockBodies / Receipts replies approach a few
 * MiB; anything above this is a protocol error, not a large message.
 */
export const DEFAULT_STREAM_MAX_MESSAGE_SIZE = DEFAULT_MAX_MESSAGE_LENGTH

/**
 * Most bytes we let sit in a stream's write buffer. `write()` returning false
 * (the remote is not reading fast enough) does not stop senders: replies keep
 * queueing in the Duplex, and every queued byte is memory we hold for the
 * remote. 32 MiB is three maximum-size messages plus slack, so a peer that
 * reads at all never reaches it; one that stops reading while asking for more
 * is cut off with SendBufferFullError instead of growing our heap silently.
 */
export const DEFAULT_MAX_SEND_BUFFER_BYTES = 32 * 1024 * 1024

/** The stream carried bytes that are not ETH-over-stream framing (bad length prefix, empty message). */
export class StreamFramingError extends ClientError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('ERR_ETH_STREAM_FRAMING', `invalid eth stream framing: ${reason}`, options)
  }
}

/** A message larger than the per-message limit, announced by the remote or handed to us to send. */
export class EthMessageTooLargeError extends ClientError {
  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly length: number,
    readonly maxLength: number,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_ETH_MESSAGE_TOO_LARGE',
      `${direction} eth message of ${length} bytes exceeds the limit of ${maxLength} bytes`,
      options,
    )
  }
}

/** A StreamSender limit option is not a usable integer. */
export class StreamSenderOptionError extends ClientError {
  constructor(readonly option: string, message: string) {
    super('ERR_ETH_STREAM_OPTION', `${option}: ${message}`)
  }
}

/** The remote stopped reading while we kept sending: the write buffer passed its limit. */
export class SendBufferFullError extends ClientError {
  constructor(
    readonly buffered: number,
    readonly limit: number,
  ) {
    super('ERR_ETH_SEND_BUFFER_FULL', `${buffered} bytes queued for a peer that is not reading (limit ${limit})`)
  }
}

export interface StreamSenderOptions extends SenderOptions {
  /** Negotiated eth version (from the stream's protocol id). */
  version: number
  /** Per-message limit both ways; default DEFAULT_STREAM_MAX_MESSAGE_SIZE (config.maxMessageSize). */
  maxMessageSize?: number
  /** Write-buffer limit; default DEFAULT_MAX_SEND_BUFFER_BYTES. Must be >= maxMessageSize. */
  maxSendBufferBytes?: number
}

/** Traffic of one ETH stream, by message code. */
export interface StreamSenderStats {
  messagesIn: number
  messagesOut: number
  /** Framed bytes (prefix, code and payload). */
  bytesIn: number
  bytesOut: number
  inByCode: Map<number, number>
  outByCode: Map<number, number>
  /** Times write() reported a full buffer (the remote reads slower than we send). */
  backpressured: number
}

/** One-byte buffers for each code, so framing a message copies nothing for the code. */
const CODE_BYTES: readonly Uint8Array[] = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i))

/**
 * The ETH session over one negotiated stream (an MplexStream, or any byte
 * Duplex): each message is `uvarint(n) || code || RLP(payload)` with n
 * counting code and payload (the wire format in docs/ARCHITECTURE.md).
 *
 * Inbound bytes go through an incremental length-prefixed decoder, so message
 * boundaries never depend on chunk boundaries: several messages in one chunk
 * and one message over many chunks decode the same. A bad prefix, an empty
 * message or one above `maxMessageSize` is reported as an error and ends the
 * session (the stream is reset). Status (code 0) is decoded here and delivered
 * as 'status'; everything else goes up as RLP bytes for BoundProtocol to decode.
 *
 * The stream ending, being reset or failing closes the Sender at once, so the
 * bound protocol fails its in-flight requests immediately (not at their timeout).
 */
export class StreamSender extends Sender {
  readonly version: number
  readonly maxMessageSize: number
  readonly maxSendBufferBytes: number
  readonly stats: StreamSenderStats = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    inByCode: new Map(),
    outByCode: new Map(),
    backpressured: 0,
  }
  private readonly stream: Duplex
  private readonly decoder: LengthPrefixedDecoder
  private streamError?: Error

  private readonly onData = (chunk: Uint8Array) => this.handleData(chunk)
  private readonly onEnd = () => this.handleEnd()
  private readonly onStreamError = (err: Error) => this.handleStreamError(err)
  private readonly onStreamClose = () => this.handleStreamClose()

  constructor(stream: Duplex, opts: StreamSenderOptions) {
    super(opts)
    this.stream = stream
    this.version = opts.version
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_STREAM_MAX_MESSAGE_SIZE
    this.maxSendBufferBytes = opts.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES
    checkLimit('maxMessageSize', this.maxMessageSize, 1)
    checkLimit('maxSendBufferBytes', this.maxSendBufferBytes, this.maxMessageSize)
    this.decoder = new LengthPrefixedDecoder({ maxLength: this.maxMessageSize })
    // Kept for the stream's whole life: a reset after we closed must not become an uncaught error.
    stream.on('error', this.onStreamError)
    stream.on('end', this.onEnd)
    stream.on('close', this.onStreamClose)
    if (stream.destroyed || stream.readableEnded) {
      queueMicrotask(() => (stream.destroyed ? this.handleStreamClose() : this.handleEnd()))
      return
    }
    // Bytes the remote sent before we attached (right after negotiation) are still in the readable buffer.
    stream.on('data', this.onData)
  }

  sendStatus(status: EthStatus): void {
    this.sendMessage(EthCode.Status, encodeStatus(status))
  }

  /**
   * Frames and writes one message. Throws PeerDisconnectedError on a closed
   * session, EthMessageTooLargeError above `maxMessageSize` (nothing is sent),
   * SendBufferFullError (and closes the session) when the remote has left
   * more than `maxSendBufferBytes` unread.
   */
  sendMessage(code: number, payload: Input): void {
    if (this.closed) throw new PeerDisconnectedError('eth stream is closed')
    if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new EthEncodeError(`message code ${code} does not fit one byte`)
    const rlp = encodeRlp(payload)
    const n = 1 + rlp.length
    if (n > this.maxMessageSize) throw new EthMessageTooLargeError('outbound', n, this.maxMessageSize)
    const queued = this.stream.writableLength
    if (queued + n > this.maxSendBufferBytes) {
      const err = new SendBufferFullError(queued + n, this.maxSendBufferBytes)
      this.close(err)
      throw err
    }
    const ok = writeMessage(this.stream, [CODE_BYTES[code], rlp], { maxLength: this.maxMessageSize })
    if (!ok) this.stats.backpressured++
    this.stats.messagesOut++
    this.stats.bytesOut += uvarintLength(n) + n
    this.stats.outByCode.set(code, (this.stats.outByCode.get(code) ?? 0) + 1)
    this.meter.message('outbound', this.version, code, n)
  }

  /** No reason: graceful half-close (queued replies still go out). With a reason: reset the stream. */
  protected closeTransport(reason?: Error): void {
    this.detach()
    if (this.stream.destroyed) return
    if (reason === undefined) this.stream.end()
    else this.stream.destroy()
  }

  private handleData(chunk: Uint8Array): void {
    if (this.closed) return
    this.stats.bytesIn += chunk.length
    try {
      this.decoder.append(chunk)
      for (let msg = this.decoder.next(); msg !== undefined && !this.closed; msg = this.decoder.next()) this.deliver(msg)
    } catch (err) {
      this.fail(framingError(err, this.maxMessageSize))
    }
  }

  private deliver(msg: Uint8Array): void {
    if (msg.length === 0) throw new StreamFramingError('empty message (no code byte)')
    const code = msg[0]
    const payload = msg.subarray(1)
    this.stats.messagesIn++
    this.stats.inByCode.set(code, (this.stats.inByCode.get(code) ?? 0) + 1)
    this.receiveMessage(code, payload)
  }

  /** A framing violation: report it, then end the session (nothing after it can be parsed). */
  private fail(err: Error): void {
    log('closing eth stream: %s', err.message)
    this.receiveError(err)
    this.close(err)
  }

  private handleEnd(): void {
    if (this.closed) return
    const partial = this.decoder.bufferedBytes
    const reason =
      partial > 0
        ? new PeerDisconnectedError(`remote ended the eth stream inside a message (${partial} bytes pending)`)
        : new PeerDisconnectedError('remote closed the eth stream')
    this.detach()
    this.receiveClosed(reason)
    // Finish our half too, so the stream is released on both sides.
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end()
  }

  private handleStreamError(err: Error): void {
    this.streamError ??= err
    log('eth stream error: %s', err.message)
  }

  private handleStreamClose(): void {
    this.detach()
    if (this.closed) return
    const err = this.streamError
    const reason = err
      ? new PeerDisconnectedError(`eth stream failed: ${describeError(err)}`, { cause: err })
      : new PeerDisconnectedError('eth stream closed')
    this.receiveClosed(reason)
  }

  private detach(): void {
    this.stream.off('data', this.onData)
    this.stream.off('end', this.onEnd)
  }
}

function framingError(err: unknown, maxLength: number): Error {
  if (err instanceof ClientError) return err
  if (err instanceof MessageTooLargeError) return new EthMessageTooLargeError('inbound', err.length, maxLength, { cause: err })
  return new StreamFramingError(describeError(err), { cause: err })
}

function checkLimit(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new StreamSenderOptionError(name, `must be an integer >= ${min}, got ${value}`)
}
