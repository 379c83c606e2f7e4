import { RLP } from '@ethereumjs/rlp'

import { Chain } from '../../../../src/client/blockchain/chain'
import { Config } from '../../../../src/client/config'
import { Peer } from '../../../../src/client/net/peer/peer'
import { PeerDisconnectedError } from '../../../../src/client/net/protocol/errors'
import { type EthStatus, decodeStatus, encodeStatus } from '../../../../src/client/net/protocol/ethmessages'
import { EthProtocol } from '../../../../src/client/net/protocol/ethprotocol'
import { Sender, type SenderOptions } from '../../../../src/client/net/protocol/sender'
import { type Event, type EventBus, type EventParams } from '../../../../src/client/types'
import { loadTestChain } from './fixtures'

import type { Input } from '@ethereumjs/rlp'
import type { Common } from '@ethereumjs/common'
import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'

/**
 * An in-memory transport: the real Sender machinery (buffering, ordering, close)
 * with a peer object instead of a socket. Delivery is asynchronous (a microtask),
 * as on a network, and goes through RLP bytes, as on a network.
 */
export class MemorySender extends Sender {
  readonly version: number
  remote?: MemorySender

  constructor(version: number, opts?: SenderOptions) {
    super(opts)
    this.version = version
  }

  static pair(version: number, opts?: SenderOptions): [MemorySender, MemorySender] {
    const a = new MemorySender(version, opts)
    const b = new MemorySender(version, opts)
    a.remote = b
    b.remote = a
    return [a, b]
  }

  sendStatus(status: EthStatus): void {
    this.sendMessage(0, encodeStatus(status))
  }

  sendMessage(code: number, payload: Input): void {
    if (this.closed) throw new PeerDisconnectedError('memory sender closed')
    const bytes = RLP.encode(payload)
    const remote = this.remote
    queueMicrotask(() => remote?.inject(code, bytes))
  }

  protected closeTransport(): void {
    const remote = this.remote
    queueMicrotask(() => remote?.remoteClosed())
  }

  /** Feeds an inbound message as the wire would (Status as a 'status' event). */
  inject(code: number, payload: Uint8Array | RlpItem[]): void {
    if (code === 0) {
      let status: EthStatus
      try {
        status = decodeStatus(payload)
      } catch (err) {
        this.receiveError(err as Error)
        return
      }
      this.receiveStatus(status)
    } else {
      this.receiveMessage(code, payload)
    }
  }

  injectError(err: Error): void {
    this.receiveError(err)
  }

  remoteClosed(reason = new PeerDisconnectedError('remote closed the memory transport')): void {
    this.receiveClosed(reason)
  }
}

/** The smallest real Peer: no transport of its own (tests hand it a MemorySender). */
export class TestPeer extends Peer {
  constructor(config: Config, id = 'ab'.repeat(64)) {
    super({ config, id, address: '127.0.0.1:0', inbound: false, transport: 'rlpx', protocols: [] })
  }

  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {
    this.eth?.close()
  }
}

export interface Side {
  config: Config
  chain: Chain
  protocol: EthProtocol
  peer: TestPeer
}

/** A config + chain + EthProtocol on the shared test chain (`blocks` of it imported). */
export async function makeSide(opts: { common?: Common; blocks?: number; requestTimeoutMs?: number; statusTimeoutMs?: number } = {}): Promise<Side> {
  const { common: testChainCommon, chain: tc } = await loadTestChain()
  const common = opts.common ?? testChainCommon
  const config = new Config({
    common,
    port: 0,
    discV4: false,
    requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    statusTimeoutMs: opts.statusTimeoutMs ?? 60_000,
  })
  const chain = await Chain.create({ common })
  const n = opts.blocks ?? tc.blocks.length
  if (n > 0) await chain.putBlocks(tc.blocks.slice(0, n), tc.receipts.slice(0, n))
  const protocol = new EthProtocol({ config, chain })
  await protocol.open()
  return { config, chain, protocol, peer: new TestPeer(config) }
}

/** Resolves with the next emission of `event` on the bus; rejects after `timeoutMs` (a safety net, not a sleep). */
export function nextEvent<E extends Event>(bus: EventBus, event: E, timeoutMs = 10_000): Promise<EventParams[E]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: EventParams[E]) => {
      clearTimeout(timer)
      resolve(args)
    }
    const timer = setTimeout(() => {
      bus.off(event, listener)
      reject(new Error(`no ${event} within ${timeoutMs} ms`))
    }, timeoutMs)
    bus.once(event, listener)
  })
}

/** Collects every emission of `event` until `stop()` is called. */
export function collect<E extends Event>(bus: EventBus, event: E): { items: EventParams[E][]; stop: () => void } {
  const items: EventParams[E][] = []
  const listener = (...args: EventParams[E]) => {
    items.push(args)
  }
  bus.on(event, listener)
  return { items, stop: () => bus.off(event, listener) }
}

/** Resolves with the next `n` emissions of `event` on the bus. */
export function nextEvents<E extends Event>(bus: EventBus, event: E, n: number, timeoutMs = 10_000): Promise<EventParams[E][]> {
  return new Promise((resolve, reject) => {
    const got: EventParams[E][] = []
    const listener = (...args: EventParams[E]) => {
      got.push(args)
      if (got.length < n) return
      clearTimeout(timer)
      bus.off(event, listener)
      resolve(got)
    }
    const timer = setTimeout(() => {
      bus.off(event, listener)
      reject(new Error(`only ${got.length}/${n} ${event} within ${timeoutMs} ms`))
    }, timeoutMs)
    bus.on(event, listener)
  })
}

/** Resolves with the next `n` messages a raw sender receives. */
export function nextMessages(sender: Sender, n: number, timeoutMs = 10_000): Promise<{ code: number; payload: Uint8Array | RlpItem[] }[]> {
  return new Promise((resolve, reject) => {
    const got: { code: number; payload: Uint8Array | RlpItem[] }[] = []
    const listener = (m: { code: number; payload: Uint8Array | RlpItem[] }) => {
      got.push(m)
      if (got.length === n) {
        clearTimeout(timer)
        sender.off('message', listener)
        resolve(got)
      }
    }
    const timer = setTimeout(() => {
      sender.off('message', listener)
      reject(new Error(`only ${got.length}/${n} messages within ${timeoutMs} ms`))
    }, timeoutMs)
    sender.on('message', listener)
  })
}

/** Resolves with the next Status a raw sender receives. */
export function nextStatus(sender: Sender, timeoutMs = 10_000): Promise<EthStatus> {
  return new Promise((resolve, reject) => {
    const listener = (s: EthStatus) => {
      clearTimeout(timer)
      resolve(s)
    }
    const timer = setTimeout(() => {
      sender.off('status', listener)
      reject(new Error(`no Status within ${timeoutMs} ms`))
    }, timeoutMs)
    sender.once('status', listener)
  })
}
