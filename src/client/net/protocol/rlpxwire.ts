import { SNAPPY_PROTOCOL_VERSION, snappyCompress } from '../../../p2p'

import { SenderBufferOverflowError } from './errors'
import { EthCode, type EthStatus, encodeStatus } from './ethmessages'
import { encodeRlp } from './rlpencode'
import { Devp2pSender, RlpxSender, type RlpxSenderOptions } from './rlpxsender'
import { DEFAULT_MAX_BUFFERED } from './sender'
import { EthMessageTooLargeError } from './streamsender'

import { type Capabilities, type Peer as Devp2pPeer, ETH, type SendMethod } from '@ethereumjs/devp2p'
import type { Input } from '@ethereumjs/rlp'

/**
 * eth/69 and later on the legacy RLPx path. @ethereumjs/devp2p's `ETH` class
 * knows eth/62..68 only (and decodes and checks Status itself, in the eth/68
 * form); devp2p's RLPx session, though, takes any capability whose class we
 * supply: it negotiates it in Hello, assigns its message-id offset, hands it
 * every message in its id range (snappy already undone) and gives it a send
 * function. EthWire is that class for eth/69+: it carries raw message bytes
 * and nothing else. RlpxWireSender puts the shared codec on top, so the
 * Status, the receipts and every other message are encoded and decoded by
 * exactly the code the stream path uses.
 */

/** Message ids eth/69 and eth/70 use: 0x00..0x11 (BlockRangeUpdate is the last), as geth's protocolLengths. */
export const ETH69_MESSAGE_COUNT = 0x12

type WireSink = (code: number, payload: Uint8Array) => void

/**
 * The per-session capability object devp2p instantiates for eth/69+. It
 * holds what arrives before a sender attaches (devp2p may deliver the
 * remote Status in the same read as the Hello), at most DEFAULT_MAX_BUFFERED
 * messages.
 */
export class EthWire {
  readonly version: number
  readonly peer: Devp2pPeer
  private readonly sendRaw: SendMethod
  private sink?: WireSink
  private held: [number, Uint8Array][] = []
  private overflowed = false

  constructor(version: number, peer: Devp2pPeer, send: SendMethod) {
    this.version = version
    this.peer = peer
    this.sendRaw = send
  }

  /** devp2p's entry point for each inbound message of this capability (`code` relative to our offset). */
  _handleMessage(code: number, payload: Uint8Array): void {
    if (this.sink !== undefined) {
      this.sink(code, payload)
      return
    }
    if (this.held.length < DEFAULT_MAX_BUFFERED) this.held.push([code, payload])
    else this.overflowed = true
  }

  /**
   * Routes inbound messages to `sink` from now on, after those held so far.
   * Returns false if more arrived before it attached than could be held.
   */
  attach(sink: WireSink): boolean {
    this.sink = sink
    const held = this.held
    this.held = []
    for (const [code, payload] of held) sink(code, payload)
    return !this.overflowed
  }

  detach(): void {
    this.sink = undefined
  }

  /** Sends one message: `rlp` is its RLP payload; compressed when the session runs devp2p v5. */
  send(code: number, rlp: Uint8Array): void {
    const hello = this.peer.getHelloMessage()
    const compressed = hello !== null && hello.protocolVersion >= SNAPPY_PROTOCOL_VERSION
    this.sendRaw(code, compressed ? snappyCompress(rlp) : rlp)
  }
}

/**
 * devp2p capability descriptors for eth/69+ backed by EthWire. devp2p's
 * typings want its own (unexported) abstract `Protocol` as the constructor's
 * product; at run time it only constructs the class with (version, peer,
 * send), calls `_handleMessage`, and returns the instance from
 * `getProtocols()`, which is all EthWire provides.
 */
export function ethWireCapability(version: number): Capabilities {
  return { name: 'eth', version, length: ETH69_MESSAGE_COUNT, constructor: EthWire as unknown as Capabilities['constructor'] }
}

export interface RlpxWireSenderOptions extends RlpxSenderOptions {
  /** Largest message accepted or sent (config.maxMessageSize). */
  maxMessageSize: number
}

/** Sender over an EthWire: the shared codec's bytes, framed by devp2p's RLPx session. */
export class RlpxWireSender extends Devp2pSender {
  readonly version: number
  private readonly wire: EthWire
  private readonly maxMessageSize: number

  constructor(wire: EthWire, opts: RlpxWireSenderOptions) {
    super({ ...opts, peer: opts.peer ?? wire.peer })
    this.wire = wire
    this.version = wire.version
    this.maxMessageSize = opts.maxMessageSize
    if (!wire.attach((code, payload) => this.handleWireMessage(code, payload))) {
      queueMicrotask(() => this.close(new SenderBufferOverflowError(DEFAULT_MAX_BUFFERED)))
    }
  }

  sendStatus(status: EthStatus): void {
    this.sendMessage(EthCode.Status, encodeStatus(status))
  }

  /** Throws EthMessageTooLargeError above maxMessageSize (nothing is sent). */
  sendMessage(code: number, payload: Input): void {
    const rlp = encodeRlp(payload)
    if (1 + rlp.length > this.maxMessageSize) throw new EthMessageTooLargeError('outbound', 1 + rlp.length, this.maxMessageSize)
    this.wire.send(code, rlp)
    this.meter.message('outbound', this.version, code, 1 + rlp.length)
  }

  protected detachCapability(): void {
    this.wire.detach()
  }

  private handleWireMessage(code: number, payload: Uint8Array): void {
    if (1 + payload.length > this.maxMessageSize) {
      const err = new EthMessageTooLargeError('inbound', 1 + payload.length, this.maxMessageSize)
      this.receiveError(err)
      this.close(err)
      return
    }
    this.receiveMessage(code, payload)
  }
}

/**
 * The Sender of the eth version devp2p negotiated on `peer`: over devp2p's
 * own ETH (eth/66..68) or over our EthWire (eth/69+); undefined when the
 * session carries no eth capability.
 */
export function rlpxEthSender(peer: Devp2pPeer, opts: Omit<RlpxWireSenderOptions, 'peer'>): RlpxSender | RlpxWireSender | undefined {
  const protocols: readonly unknown[] = peer.getProtocols()
  const eth = protocols.find((p): p is ETH => p instanceof ETH)
  if (eth !== undefined) return new RlpxSender(eth, { ...opts, peer })
  const wire = protocols.find((p): p is EthWire => p instanceof EthWire)
  if (wire !== undefined) return new RlpxWireSender(wire, { ...opts, peer })
  return undefined
}
