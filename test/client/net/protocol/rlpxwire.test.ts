import { EventEmitter } from 'node:events'

import { RLP } from '@ethereumjs/rlp'
import * as snappy from 'snappyjs'
import { describe, expect, it } from 'vitest'

import { EthMessageTooLargeError } from '../../../../src/client/net/protocol/streamsender'
import { EthCode } from '../../../../src/client/net/protocol/ethmessages'
import { ETH69_MESSAGE_COUNT, EthWire, RlpxWireSender, ethWireCapability } from '../../../../src/client/net/protocol/rlpxwire'
import { DEFAULT_MAX_BUFFERED, type SenderMessage } from '../../../../src/client/net/protocol/sender'
import { nextEvent } from '../../helpers/waits'

import type { Peer as Devp2pPeer } from '@ethereumjs/devp2p'

/**
 * EthWire, the devp2p capability object of eth/69+, on its own: a stand-in
 * for devp2p's session (what devp2p hands a capability: its Hello, its
 * events, a send function). The real sessions are in rlpx.test.ts.
 */
function fakeSession(baseProtocolVersion: number) {
  const sent: [number, Uint8Array][] = []
  const peer = { getHelloMessage: () => ({ protocolVersion: baseProtocolVersion }), events: new EventEmitter(), disconnect: () => undefined } as unknown as Devp2pPeer
  const wire = new EthWire(70, peer, (code: number, data: Uint8Array) => sent.push([code, data]))
  return { peer, wire, sent }
}

describe('EthWire', () => {
  it('is offered to devp2p as eth/N with 18 message ids (0x00..0x11)', () => {
    const cap = ethWireCapability(69)
    expect([cap.name, cap.version, cap.length]).toEqual(['eth', 69, ETH69_MESSAGE_COUNT])
    expect(ETH69_MESSAGE_COUNT).toBe(EthCode.BlockRangeUpdate + 1)
    expect(cap.constructor).toBe(EthWire)
  })

  it('holds what devp2p delivers before a sender attaches and hands it over in order', () => {
    const { wire } = fakeSession(5)
    wire._handleMessage(0, Uint8Array.of(1))
    wire._handleMessage(3, Uint8Array.of(2))
    const got: number[] = []
    expect(wire.attach((code) => got.push(code))).toBe(true)
    wire._handleMessage(4, Uint8Array.of(3))
    expect(got).toEqual([0, 3, 4])
  })

  it('reports more early messages than it holds instead of growing', () => {
    const { wire } = fakeSession(5)
    for (let i = 0; i <= DEFAULT_MAX_BUFFERED; i++) wire._handleMessage(2, Uint8Array.of(i))
    let delivered = 0
    expect(wire.attach(() => delivered++)).toBe(false)
    expect(delivered).toBe(DEFAULT_MAX_BUFFERED)
  })

  it('snappy-compresses on a devp2p v5 session and sends plain RLP below v5', () => {
    const payload = RLP.encode([new Uint8Array(1000)])
    const v5 = fakeSession(5)
    v5.wire.send(2, payload)
    expect(v5.sent[0]![1].length).toBeLessThan(payload.length)
    expect(snappy.uncompress(v5.sent[0]![1])).toEqual(payload)
    const v4 = fakeSession(4)
    v4.wire.send(2, payload)
    expect(v4.sent[0]).toEqual([2, payload])
  })
})

describe('RlpxWireSender', () => {
  it('sends through the wire and refuses a message above maxMessageSize, either way', async () => {
    const { wire, sent } = fakeSession(4)
    const sender = new RlpxWireSender(wire, { maxMessageSize: 100 })
    sender.sendMessage(EthCode.GetBlockBodies, [Uint8Array.of(1), []])
    expect(sent).toEqual([[EthCode.GetBlockBodies, RLP.encode([Uint8Array.of(1), []])]])
    expect(() => sender.sendMessage(EthCode.Transactions, [new Uint8Array(200)])).toThrow(EthMessageTooLargeError)
    expect(sent).toHaveLength(1)

    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    const errored = nextEvent<[Error]>(sender, 'error')
    sender.on('message', (_m: SenderMessage) => undefined)
    sender.on('status', () => undefined)
    wire._handleMessage(EthCode.Transactions, new Uint8Array(200))
    const [err] = await errored
    expect(err).toBeInstanceOf(EthMessageTooLargeError)
    expect((err as EthMessageTooLargeError).direction).toBe('inbound')
    expect((await closed)[0]).toBe(err)
  })

  it('ends when devp2p reports the session closed', async () => {
    const { peer, wire } = fakeSession(5)
    const sender = new RlpxWireSender(wire, { maxMessageSize: 1000 })
    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    peer.events.emit('close', 0x04)
    const [reason] = await closed
    expect(reason?.message).toMatch(/devp2p peer disconnected/)
    expect(sender.closed).toBe(true)
  })
})
