import type { Duplex } from 'node:stream'
import { RLP } from '@ethereumjs/rlp'
import { type SecureStream, secureInbound, secureOutbound } from '../../../src/p2p/crypto'
import {
  type Capability,
  type CapabilityName,
  DISCONNECT_MSG,
  HELLO_MSG,
  type RlpxMuxer,
  RlpxMuxer as Muxer,
  type RlpxMuxerOptions,
  encodeHello,
  encodeMessageId,
  snappyCompress,
  snappyUncompress,
  splitMessageId,
} from '../../../src/p2p/rlpx'
import { duplexPair, nodeKey, tcpPair } from '../crypto/helpers'

export { nodeKey }

export const ETH68: Capability = { name: 'eth', version: 68, length: 17 }
export const ETH69: Capability = { name: 'eth', version: 69, length: 18 }
export const SNAP1: Capability = { name: 'snap', version: 1, length: 8 }

export type NodeKey = ReturnType<typeof nodeKey>

/** Two secure channels over an in-memory pipe (or TCP), ECIES done, nothing read yet. */
export async function securePair(transport: 'memory' | 'tcp' = 'memory'): Promise<{
  dialer: SecureStream
  listener: SecureStream
  dialerKey: NodeKey
  listenerKey: NodeKey
  close: () => Promise<void>
}> {
  const dialerKey = nodeKey()
  const listenerKey = nodeKey()
  let a: Duplex
  let b: Duplex
  let close: () => Promise<void>
  if (transport === 'tcp') {
    const pair = await tcpPair()
    a = pair.client
    b = pair.server
    close = pair.close
  } else {
    ;[a, b] = duplexPair()
    close = async () => {
      a.destroy()
      b.destroy()
    }
  }
  const [out, inb] = await Promise.all([
    secureOutbound(a, { privateKey: dialerKey.privateKey, remoteId: listenerKey.id }),
    secureInbound(b, { privateKey: listenerKey.privateKey }),
  ])
  // Tearing a pair down makes both channels report the lost socket; each test asserts the errors it expects itself.
  for (const channel of [out.stream, inb.stream]) channel.on('error', () => {})
  return { dialer: out.stream, listener: inb.stream, dialerKey, listenerKey, close }
}

export type SessionOptions = Partial<Omit<RlpxMuxerOptions, 'localId' | 'remoteId' | 'direction'>>

/** Two RlpxMuxers over a fresh secure pair, Hello exchanged. */
export async function sessionPair(
  opts: { dialer?: SessionOptions; listener?: SessionOptions; transport?: 'memory' | 'tcp' } = {},
): Promise<{ dialer: RlpxMuxer; listener: RlpxMuxer; keys: { dialer: NodeKey; listener: NodeKey }; close: () => Promise<void> }> {
  const pair = await securePair(opts.transport)
  const [dialer, listener] = await Promise.all([
    Muxer.handshake(pair.dialer, {
      localId: pair.dialerKey.id,
      remoteId: pair.listenerKey.id,
      direction: 'outbound',
      capabilities: [ETH68],
      ...opts.dialer,
    }),
    Muxer.handshake(pair.listener, {
      localId: pair.listenerKey.id,
      remoteId: pair.dialerKey.id,
      direction: 'inbound',
      capabilities: [ETH68],
      ...opts.listener,
    }),
  ])
  return {
    dialer,
    listener,
    keys: { dialer: pair.dialerKey, listener: pair.listenerKey },
    close: async () => {
      dialer.abort(new Error('test cleanup'))
      listener.abort(new Error('test cleanup'))
      await pair.close()
    },
  }
}

/** Resolves with the muxer's 'close' reason. */
export function closeOf(muxer: RlpxMuxer): Promise<Error | undefined> {
  if (muxer.status === 'closed') return Promise.resolve(muxer.closeReason)
  return new Promise((resolve) => muxer.once('close', (err?: Error) => resolve(err)))
}

export interface RawMessage {
  id: number
  /** Payload as sent (compressed when the raw peer was told the session compresses). */
  data: Uint8Array
}

/**
 * A hand-driven RLPx peer on a secure channel in frame mode: sends any frame
 * it is told to, records every message it receives. The hostile side of the
 * reliability tests and the wire-level observer of the unit tests.
 */
export class RawPeer {
  readonly received: RawMessage[] = []
  ended = false
  /** Set to decompress received messages after Hello (the session is v5). */
  compressed = false
  #waiters: Array<() => void> = []

  /** `closeOnEnd: false` makes a peer that keeps its side open after the session ended its own. */
  constructor(
    readonly channel: SecureStream,
    opts: { closeOnEnd?: boolean } = {},
  ) {
    const closeOnEnd = opts.closeOnEnd ?? true
    channel.on('error', () => {})
    channel.on('close', () => this.#wake())
    channel.readFrames({
      frame: (body) => {
        const { id, data } = splitMessageId(body)
        this.received.push({ id, data })
        this.#wake()
        return true
      },
      drain: () => {},
      end: () => {
        // As geth and devp2p do once the other side is done: close the connection.
        this.ended = true
        if (closeOnEnd) channel.destroy()
        this.#wake()
      },
    })
  }

  sendFrame(body: Uint8Array): void {
    this.channel.writeFrame([body])
  }

  send(id: number, payload: Uint8Array, compress = this.compressed): void {
    this.channel.writeFrame([encodeMessageId(id), compress ? snappyCompress(payload) : payload])
  }

  sendHello(hello: { id: Uint8Array; capabilities?: CapabilityName[]; protocolVersion?: number }): void {
    this.send(
      HELLO_MSG,
      encodeHello({
        protocolVersion: hello.protocolVersion ?? 5,
        clientId: 'raw-peer',
        capabilities: hello.capabilities ?? [ETH68],
        listenPort: 0,
        nodeId: hello.id,
      }),
      false,
    )
  }

  /** The payload of the i-th received message, decompressed if this peer compresses. */
  payload(msg: RawMessage): Uint8Array {
    return this.compressed && msg.id !== HELLO_MSG ? snappyUncompress(msg.data, 1 << 24) : msg.data
  }

  /** Waits for a received message with `id` (from index `from` on). */
  async waitFor(id: number, from = 0): Promise<RawMessage> {
    for (;;) {
      const found = this.received.slice(from).find((m) => m.id === id)
      if (found !== undefined) return found
      if (this.channel.destroyed) throw new Error(`channel closed before message 0x${id.toString(16)} arrived`)
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  /** The reason of the Disconnect this peer received (decoded as geth sends it: `[reason]`). */
  async disconnectReason(): Promise<number> {
    const msg = await this.waitFor(DISCONNECT_MSG)
    const list = RLP.decode(this.payload(msg)) as Uint8Array[]
    return list[0]!.length === 0 ? 0 : list[0]![0]!
  }

  /** Resolves once the channel closed (the session under test hung up). */
  closed(): Promise<void> {
    if (this.channel.destroyed) return Promise.resolve()
    return new Promise((resolve) => this.channel.once('close', () => resolve()))
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

/** One raw peer and one RlpxMuxer handshaking against it (the raw peer dials). */
export async function rawAgainstSession(opts: SessionOptions = {}, rawOpts: { closeOnEnd?: boolean } = {}): Promise<{
  raw: RawPeer
  handshake: Promise<RlpxMuxer>
  /** The session's side of the secure channel. */
  channel: SecureStream
  keys: { raw: NodeKey; session: NodeKey }
  close: () => Promise<void>
}> {
  const pair = await securePair()
  const raw = new RawPeer(pair.dialer, rawOpts)
  const handshake = Muxer.handshake(pair.listener, {
    localId: pair.listenerKey.id,
    remoteId: pair.dialerKey.id,
    direction: 'inbound',
    capabilities: [ETH68],
    ...opts,
  })
  handshake.catch(() => {})
  return { raw, handshake, channel: pair.listener, keys: { raw: pair.dialerKey, session: pair.listenerKey }, close: pair.close }
}
