import { RLP } from '@ethereumjs/rlp'

import { Chain } from '../../../../src/client/blockchain/chain'
import { Config, type ConfigOptions } from '../../../../src/client/config'
import { PeerDisconnectedError } from '../../../../src/client/net/protocol/errors'
import { type EthStatus, encodeStatus } from '../../../../src/client/net/protocol/ethmessages'
import { EthProtocol } from '../../../../src/client/net/protocol/ethprotocol'
import { Sender, type SenderMessage, type SenderOptions } from '../../../../src/client/net/protocol/sender'
import { type Event, type EventBus, type EventParams } from '../../../../src/client/types'
import { TestPeer } from '../../helpers/peers'
import { WAIT_MS, collect as collectOf, nextEvent as nextEventOf, nextEvents as nextEventsOf } from '../../helpers/waits'
import { loadTestChain } from './fixtures'

import type { Input } from '@ethereumjs/rlp'
import type { Common } from '@ethereumjs/common'
import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'

export { TestPeer }

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

  /** Feeds an inbound message as the wire would (the Sender turns a Status into a 'status' event). */
  inject(code: number, payload: Uint8Array | RlpItem[]): void {
    this.receiveMessage(code, payload)
  }

  injectError(err: Error): void {
    this.receiveError(err)
  }

  remoteClosed(reason = new PeerDisconnectedError('remote closed the memory transport')): void {
    this.receiveClosed(reason)
  }
}

export interface Side {
  config: Config
  chain: Chain
  protocol: EthProtocol
  peer: TestPeer
}

/** A config + chain + EthProtocol on the shared test chain (`blocks` of it imported). */
export async function makeSide(
  opts: { common?: Common; blocks?: number; requestTimeoutMs?: number; statusTimeoutMs?: number; config?: ConfigOptions } = {},
): Promise<Side> {
  const { common: testChainCommon, chain: tc } = await loadTestChain()
  const common = opts.common ?? testChainCommon
  const config = new Config({
    common,
    port: 0,
    discV4: false,
    requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    statusTimeoutMs: opts.statusTimeoutMs ?? 60_000,
    ...opts.config,
  })
  const chain = await Chain.create({ common })
  const n = opts.blocks ?? tc.blocks.length
  if (n > 0) await chain.putBlocks(tc.blocks.slice(0, n), tc.receipts.slice(0, n))
  const protocol = new EthProtocol({ config, chain })
  await protocol.open()
  return { config, chain, protocol, peer: new TestPeer(config) }
}

/** Resolves with the arguments of the next `event` on the bus. */
export function nextEvent<E extends Event>(bus: EventBus, event: E, timeoutMs = WAIT_MS): Promise<EventParams[E]> {
  return bus.waitFor(event, { timeoutMs })
}

/** Collects every emission of `event` on the bus until `stop()` is called. */
export function collect<E extends Event>(bus: EventBus, event: E): { items: EventParams[E][]; stop: () => void } {
  return collectOf<EventParams[E]>(bus, event)
}

/** Resolves with the next `n` emissions of `event` on the bus. */
export function nextEvents<E extends Event>(bus: EventBus, event: E, n: number, timeoutMs = WAIT_MS): Promise<EventParams[E][]> {
  return nextEventsOf<EventParams[E]>(bus, event, n, timeoutMs)
}

/** Resolves with the next `n` messages a raw sender receives. */
export async function nextMessages(sender: Sender, n: number, timeoutMs = WAIT_MS): Promise<SenderMessage[]> {
  return (await nextEventsOf<[SenderMessage]>(sender, 'message', n, timeoutMs)).map(([m]) => m)
}

/** Resolves with the next Status a raw sender receives. */
export async function nextStatus(sender: Sender, timeoutMs = WAIT_MS): Promise<EthStatus> {
  const [status] = await nextEventOf<[EthStatus]>(sender, 'status', timeoutMs)
  return status
}
