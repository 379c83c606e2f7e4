import debug from 'debug'
import type { Connection } from './connection'
import { protocolIdProblem } from './multistream/messages'
import type { MuxedStream } from './muxed-stream'
import { DuplicateProtocolError, InvalidProtocolIdError } from './stack-errors'
import { assertLimit } from './util/timeout'

const log = debug('p2p:registrar')

/**
 * Per-connection, per-protocol stream limits. ETH keeps one long-lived stream
 * per connection, so these only need headroom for request-per-stream
 * protocols; they cap how many negotiated streams (each with its own receive
 * buffer) one peer can make us hold for a single protocol.
 */
export const DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL = 32
export const DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL = 64

/**
 * multistream-select messages are at most 1024 bytes including the trailing
 * newline, so an id we register must leave room for it.
 */
export const MAX_PROTOCOL_ID_BYTES = 1023

/** Serves one inbound stream: an MplexStream or an RLPx capability stream (see MuxedStream). */
export type StreamHandler = (stream: MuxedStream, conn: Connection) => void | Promise<void>

export interface StreamHandlerOptions {
  /** Inbound streams of this protocol one connection may hold open; excess ones are reset. */
  maxInboundStreams?: number
  /** Outbound streams of this protocol one connection may hold open; excess `newStream` calls throw. */
  maxOutboundStreams?: number
}

export interface ProtocolLimits {
  readonly maxInboundStreams: number
  readonly maxOutboundStreams: number
}

export interface HandlerRecord {
  readonly protocol: string
  readonly handler: StreamHandler
  readonly limits: ProtocolLimits
}

/**
 * Maps protocol ids to the handlers that serve inbound streams. One Registrar
 * is shared by every connection of a node: connections look handlers up when a
 * stream is negotiated, so `unhandle()` takes effect for the next stream.
 */
export class Registrar {
  private readonly handlers = new Map<string, HandlerRecord>()

  handle(protocol: string, handler: StreamHandler, opts: StreamHandlerOptions = {}): void {
    validateProtocolId(protocol)
    if (this.handlers.has(protocol)) throw new DuplicateProtocolError(protocol)
    if (typeof handler !== 'function') throw new TypeError(`handler for ${protocol} must be a function`)
    const limits: ProtocolLimits = {
      maxInboundStreams: opts.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL,
      maxOutboundStreams: opts.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL,
    }
    assertLimit(limits.maxInboundStreams, 'maxInboundStreams')
    assertLimit(limits.maxOutboundStreams, 'maxOutboundStreams')
    this.handlers.set(protocol, { protocol, handler, limits })
    log('handle %s (inbound ≤ %d, outbound ≤ %d)', protocol, limits.maxInboundStreams, limits.maxOutboundStreams)
  }

  /** Removes a handler; returns whether there was one. Open streams are not touched. */
  unhandle(protocol: string): boolean {
    const had = this.handlers.delete(protocol)
    if (had) log('unhandle %s', protocol)
    return had
  }

  /** Protocols with a handler, in registration order (the order `mssHandle` sees). */
  getProtocols(): string[] {
    return [...this.handlers.keys()]
  }

  getHandler(protocol: string): HandlerRecord | undefined {
    return this.handlers.get(protocol)
  }

  /**
   * Limits for `protocol`: its registered ones, or the defaults for a protocol
   * we only dial (outbound streams need a bound even without a local handler).
   */
  getLimits(protocol: string): ProtocolLimits {
    return (
      this.handlers.get(protocol)?.limits ?? {
        maxInboundStreams: DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL,
        maxOutboundStreams: DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL,
      }
    )
  }
}

/** Throws InvalidProtocolIdError for an id multistream-select cannot carry. */
export function validateProtocolId(protocol: string): void {
  const problem = protocolIdProblem(protocol, MAX_PROTOCOL_ID_BYTES)
  if (problem !== undefined) throw new InvalidProtocolIdError(String(protocol), problem)
}
