import { EventEmitter } from 'node:events'

import { SenderBufferOverflowError } from './errors'
import { EthCode, type EthStatus, decodeStatus } from './ethmessages'
import { type MessageMeter, NO_METER } from './meter'

import type { Input } from '@ethereumjs/rlp'
import type { RlpItem } from './rlpfields'

/** An inbound message as a transport hands it over: RLP bytes or the already-decoded item list. */
export interface SenderMessage {
  code: number
  payload: Uint8Array | RlpItem[]
}

export interface SenderEvents {
  status: [status: EthStatus]
  message: [message: SenderMessage]
  error: [error: Error]
  close: [reason: Error | undefined]
}

type SenderEvent = keyof SenderEvents
type Inbound = { [E in SenderEvent]: { event: E; args: SenderEvents[E] } }[SenderEvent]

export interface SenderOptions {
  /** Inbound items held while no consumer listens; see DEFAULT_MAX_BUFFERED. */
  maxBuffered?: number
  /** Counts every message moved (config.meter); default NO_METER. */
  meter?: MessageMeter
}

/**
 * Most inbound items a Sender holds before its consumer attaches. The remote
 * sends its Status and perhaps a few announcements before our handshake runs;
 * more than this is a flood, and the session is closed rather than grown.
 */
export const DEFAULT_MAX_BUFFERED = 256

const INBOUND_EVENTS = new Set<string | symbol>(['status', 'message', 'error', 'close'])

/**
 * The transport of one protocol session (an RLPx capability, or a stream).
 * Subclasses push what arrives through `receive*`; the consumer (BoundProtocol)
 * listens to 'status', 'message', 'error', 'close'.
 *
 * Inbound items are delivered strictly in arrival order, and an item is only
 * delivered once its event has a listener: anything that arrives before the
 * consumer attaches waits in a bounded queue, so a reply can never be lost to
 * a listener attached late. `start()` delivers the queue synchronously; adding
 * a listener delivers it on the next microtask (after the caller has attached
 * the rest of its listeners). An item nobody listens for holds back the items
 * behind it (so 'close' never overtakes a reply): consumers listen to all four events.
 */
export abstract class Sender extends EventEmitter<SenderEvents> {
  /** The negotiated eth protocol version. */
  abstract readonly version: number
  readonly maxBuffered: number
  protected readonly meter: MessageMeter

  private readonly queue: Inbound[] = []
  private flushing = false
  private isClosed = false

  constructor(opts: SenderOptions = {}) {
    super()
    this.maxBuffered = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED
    this.meter = opts.meter ?? NO_METER
    ;(this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (INBOUND_EVENTS.has(event) && this.queue.length > 0) queueMicrotask(() => this.flush())
    })
  }

  /** Sends our Status; the transport encodes it. May throw if the transport refuses. */
  abstract sendStatus(status: EthStatus): void

  /** Sends message `code` with an RLP-able payload (the transport RLP-encodes it once). */
  abstract sendMessage(code: number, payload: Input): void

  /** Releases the transport for a locally initiated close. */
  protected abstract closeTransport(reason?: Error): void

  /** True once the session ended, by either side. */
  get closed(): boolean {
    return this.isClosed
  }

  /** Delivers everything buffered to the listeners attached so far. */
  start(): void {
    this.flush()
  }

  /** Ends the session from our side; 'close' is reported once (after anything still queued). */
  close(reason?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closeTransport(reason)
    this.push({ event: 'close', args: [reason] })
  }

  protected receiveStatus(status: EthStatus): void {
    this.receive({ event: 'status', args: [status] })
  }

  /**
   * An inbound message as the wire carries it. A Status is decoded here, for
   * every transport alike, and delivered as 'status' (a malformed one as an
   * EthCodecError on 'error'): consumers never see code 0 as a 'message'.
   */
  protected receiveMessage(code: number, payload: Uint8Array | RlpItem[]): void {
    // Decoded items (devp2p) have no wire size here; their bytes are in the socket counters.
    this.meter.message('inbound', this.version, code, payload instanceof Uint8Array ? payload.length + 1 : 0)
    if (code !== EthCode.Status) {
      this.receive({ event: 'message', args: [{ code, payload }] })
      return
    }
    let status: EthStatus
    try {
      status = decodeStatus(payload, this.version)
    } catch (err) {
      this.receiveError(err as Error)
      return
    }
    this.receiveStatus(status)
  }

  protected receiveError(error: Error): void {
    this.receive({ event: 'error', args: [error] })
  }

  /** The transport ended (remote disconnect, socket error): report 'close' once. */
  protected receiveClosed(reason?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.push({ event: 'close', args: [reason] })
  }

  private receive(item: Inbound): void {
    if (this.isClosed) return
    if (this.queue.length >= this.maxBuffered) {
      this.close(new SenderBufferOverflowError(this.maxBuffered))
      return
    }
    this.push(item)
  }

  private push(item: Inbound): void {
    this.queue.push(item)
    this.flush()
  }

  private flush(): void {
    // A listener may cause more inbound items synchronously (e.g. devp2p emits the
    // remote Status from inside sendStatus); the running loop delivers them in order.
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.queue.length > 0 && this.listenerCount(this.queue[0].event) > 0) {
        const item = this.queue.shift() as Inbound
        ;(this.emit as (event: SenderEvent, ...args: unknown[]) => boolean)(item.event, ...item.args)
      }
    } finally {
      this.flushing = false
    }
  }
}
