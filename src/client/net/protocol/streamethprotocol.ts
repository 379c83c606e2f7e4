import { ClientError } from '../../errors'

import { type EthVersion, isEthVersion } from './ethmessages'
import { Protocol } from './protocol'
import { StreamSender, type StreamSenderOptions } from './streamsender'

import type { Duplex } from 'node:stream'
import type { Connection, MuxedStream, Registrar } from '../../../p2p'

/**
 * ETH streams one connection may hold per protocol id, each way: the dialer
 * opens one long-lived ETH stream per session (docs/ARCHITECTURE.md), so a second
 * one is either a bug or an attempt to make us hold more buffers.
 */
export const ETH_STREAMS_PER_CONNECTION = 1

const PROTOCOL_ID_RE = /^\/eth\/(\d{2,3})\/1\.0\.0$/

/** `/eth/<version>/1.0.0`, the multistream-select id of an eth version. */
export function ethStreamProtocolId(version: number): string {
  return `/eth/${version}/1.0.0`
}

/** The eth version a protocol id names, or undefined for anything else. */
export function ethVersionOf(protocolId: string): EthVersion | undefined {
  const m = PROTOCOL_ID_RE.exec(protocolId)
  if (m === null) return undefined
  const version = Number(m[1])
  return isEthVersion(version) ? version : undefined
}

/** A stream was negotiated for a protocol id that is not one of ours. */
export class UnknownStreamProtocolError extends ClientError {
  constructor(readonly protocolId: string | undefined) {
    super('ERR_ETH_STREAM_PROTOCOL', `stream protocol ${JSON.stringify(protocolId)} is not an eth version we speak`)
  }
}

/** Receives each inbound ETH stream with its connection; its eth version is read once, by createSender. */
export type EthStreamHandler = (stream: MuxedStream, connection: Connection) => void

/** Sender options the protocol does not decide itself (limits from the config). */
export type StreamSenderLimits = Omit<StreamSenderOptions, 'version'>

/**
 * eth (the offered `config.ethVersions`, eth/66 to eth/70) over a negotiated stream of the modular P2P stack.
 * What a session means (Status, validation, messages, requests) is the shared
 * Protocol / BoundEthProtocol; this class only knows the protocol ids, how to
 * register them with a Registrar, and how to wrap a stream in a StreamSender.
 */
export class StreamEthProtocol extends Protocol {
  private readonly registered = new Set<Registrar>()

  /** Protocol ids in proposal order: the highest version first. */
  get protocolIds(): string[] {
    return [...this.versions].sort((a, b) => b - a).map(ethStreamProtocolId)
  }

  /**
   * Registers one Registrar handler per version (one inbound and one outbound
   * ETH stream per connection). `handler` gets each negotiated inbound stream.
   */
  register(registrar: Registrar, handler: EthStreamHandler): void {
    if (this.registered.has(registrar)) throw new ClientError('ERR_ETH_STREAM_REGISTERED', 'StreamEthProtocol is already registered with this registrar')
    const limits = { maxInboundStreams: ETH_STREAMS_PER_CONNECTION, maxOutboundStreams: ETH_STREAMS_PER_CONNECTION }
    for (const id of this.protocolIds) registrar.handle(id, handler, limits)
    this.registered.add(registrar)
  }

  /** Removes the handlers again (open streams are not touched). */
  unregister(registrar: Registrar): void {
    if (!this.registered.delete(registrar)) return
    for (const id of this.protocolIds) registrar.unhandle(id)
  }

  /** The Sender for a stream negotiated as `protocolId`; limits default to the config's. */
  createSender(stream: Duplex, protocolId: string | undefined, limits: StreamSenderLimits = {}): StreamSender {
    const version = protocolId === undefined ? undefined : ethVersionOf(protocolId)
    if (version === undefined || !this.versions.includes(version)) throw new UnknownStreamProtocolError(protocolId)
    return new StreamSender(stream, { maxMessageSize: this.config.maxMessageSize, meter: this.config.meter, ...limits, version })
  }
}
