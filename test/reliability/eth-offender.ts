import { EventEmitter } from 'node:events'
import { RLP } from '@ethereumjs/rlp'
import { afterAll, beforeAll, expect } from 'vitest'
import type { Peer } from '../../src/client/net/peer/peer'
import { decodeStatus, EthCode, type EthStatus } from '../../src/client/net/protocol/ethmessages'
import type { Event } from '../../src/client/types'
import { type Connection, type MuxedStream, readMessages, writeMessage } from '../../src/p2p/index'
import { waitUntil, within } from '../utils/sockets'
import { type ClientNode, connectedPeer, nextEvent, startClientNode } from './client-fixture'
import { stackNode } from './stack-fixture'

import type { Input } from '@ethereumjs/rlp'

/**
 * A live node B for the ETH-session bad-input tables, with a good node A that
 * keeps fetching headers from it the whole time, and offenders: raw P2P-stack
 * clients that open an eth stream to B and speak ETH by hand.
 */

export interface Offender {
  id: string
  conn: Connection
  stream: MuxedStream
  /** B's Status, as B sent it. */
  status: EthStatus
  next(): Promise<{ code: number; payload: Uint8Array } | undefined>
  send(code: number, payload: Input): void
  close(): void
}

export interface LiveNode {
  /** The node under test (valid inside the cases). */
  readonly b: ClientNode
  /** A's requests kept succeeding: a few more round trips complete after the case, none failed. */
  expectGoodPeerServed(): Promise<void>
  /** A raw client of B on `/eth/<version>/1.0.0`, past B's Status (its own not sent yet). */
  offender(version: number): Promise<Offender>
  /** The next error B reports about peer `id` on `event`. */
  errorFrom(event: Event.PEER_ERROR | Event.PROTOCOL_ERROR, id: string): Promise<Error>
  /** Runs a case against a fresh offender of `version`, then checks the good peer. */
  against(version: number, run: (o: Offender) => Promise<void>): Promise<void>
  /** One GetBlockHeaders answered by B: the session is up and B's handshake has settled. */
  roundTrip(o: Offender): Promise<void>
}

/** Declares the suite's beforeAll/afterAll that start and stop B and A. */
export function useLiveNode(): LiveNode {
  let b: ClientNode | undefined
  let a: ClientNode | undefined
  const good = { done: 0, failures: [] as Error[], stop: false, loop: Promise.resolve(), events: new EventEmitter() }
  const node = (): ClientNode => {
    if (b === undefined) throw new Error('the live node is not started')
    return b
  }

  beforeAll(async () => {
    b = await startClientNode({ blocks: 8, discV4: false })
    a = await startClientNode({ discV4: false, bootnodes: [b.url] })
    const peer = await connectedPeer(a, b.id)
    good.loop = (async () => {
      while (!good.stop) {
        try {
          const headers = await peer.eth!.getBlockHeaders({ block: 0n, max: 9 })
          if (headers.length !== 9) throw new Error(`got ${headers.length} headers`)
          good.done++
          good.events.emit('progress')
        } catch (err) {
          good.failures.push(err as Error)
          good.events.emit('progress')
          return
        }
      }
    })()
  }, 60_000)

  afterAll(async () => {
    good.stop = true
    await good.loop
    await a?.stop()
    await b?.stop()
  })

  const live: LiveNode = {
    get b() {
      return node()
    },
    async expectGoodPeerServed() {
      const target = good.done + 3
      await waitUntil(good.events, ['progress'], () => good.done >= target || good.failures.length > 0, 'good peer progress')
      expect(good.failures).toEqual([])
      expect(good.done).toBeGreaterThanOrEqual(target)
    },
    async offender(version) {
      const target = node()
      const stack = stackNode()
      const conn = await stack.transport.dial({ host: '127.0.0.1', port: target.tcpPort }, { remoteId: Buffer.from(target.id, 'hex') })
      const stream = await conn.newStream(`/eth/${version}/1.0.0`)
      stream.on('error', () => {})
      const reader = readMessages(stream)
      const next = async (): Promise<{ code: number; payload: Uint8Array } | undefined> => {
        try {
          const r = await within(reader.next(), 'a message from B')
          return r.done === true ? undefined : { code: r.value[0]!, payload: r.value.subarray(1) }
        } catch {
          return undefined
        }
      }
      const first = await next()
      if (first?.code !== EthCode.Status) throw new Error('B did not open with its Status')
      return {
        id: Buffer.from(stack.id).toString('hex'),
        conn,
        stream,
        status: decodeStatus(first.payload, version),
        next,
        send: (code, payload) => writeMessage(stream, [Uint8Array.of(code), RLP.encode(payload)]),
        close: () => conn.abort(new Error('case over')),
      }
    },
    errorFrom(event, id) {
      return nextEvent(node(), event, (_err: Error, peer: Peer) => peer.id === id).then(([err]) => err)
    },
    async against(version, run) {
      const o = await live.offender(version)
      try {
        await run(o)
      } finally {
        o.close()
      }
      await live.expectGoodPeerServed()
    },
    async roundTrip(o) {
      o.send(EthCode.GetBlockHeaders, [Uint8Array.of(7), [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(0), new Uint8Array(0)]])
      for (let m = await o.next(); m !== undefined; m = await o.next()) if (m.code === EthCode.BlockHeaders) return
      throw new Error('no BlockHeaders reply')
    },
  }
  return live
}
