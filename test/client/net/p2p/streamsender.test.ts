import { type Input, RLP } from '@ethereumjs/rlp'
import { afterEach, describe, expect, it } from 'vitest'

import { EthCodecError, PeerDisconnectedError } from '../../../../src/client/net/protocol/errors'
import { EthCode, type EthStatus, type EthStatusTd } from '../../../../src/client/net/protocol/ethmessages'
import type { SenderMessage } from '../../../../src/client/net/protocol/sender'
import {
  DEFAULT_STREAM_MAX_MESSAGE_SIZE,
  EthMessageTooLargeError,
  SendBufferFullError,
  StreamFramingError,
  StreamSender,
  StreamSenderOptionError,
} from '../../../../src/client/net/protocol/streamsender'
import { encodeUvarint } from '../../../../src/p2p/codec'
import { type MemoryDuplex, duplexPair } from '../../../utils/duplex-pair'
import { randomBytes } from '../../../p2p/muxer/helpers'
import { nextEvent, waitUntil } from '../../helpers/waits'

const MiB = 1024 * 1024

/** `uvarint(n) || code || rlp` exactly as the wire format frames a message (docs/ARCHITECTURE.md). */
function frame(code: number, rlp: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + rlp.length)
  body[0] = code
  body.set(rlp, 1)
  return Buffer.concat([encodeUvarint(body.length), body])
}

/** Deterministic non-trivial bytes (a repeating pattern would hide offset bugs less well). */
const pattern = (length: number, seed: number): Uint8Array => randomBytes(length, seed)

const open: Array<MemoryDuplex> = []
const senders: StreamSender[] = []

function pair(opts: { maxMessageSize?: number; maxSendBufferBytes?: number } = {}): { raw: MemoryDuplex; sender: StreamSender; stream: MemoryDuplex } {
  const [raw, stream] = duplexPair()
  open.push(raw, stream)
  const sender = new StreamSender(stream, { version: 68, ...opts })
  senders.push(sender)
  return { raw, sender, stream }
}

function senderPair(opts: { maxMessageSize?: number } = {}): [StreamSender, StreamSender] {
  const [a, b] = duplexPair()
  open.push(a, b)
  const sa = new StreamSender(a, { version: 68, ...opts })
  const sb = new StreamSender(b, { version: 68, ...opts })
  senders.push(sa, sb)
  return [sa, sb]
}

/** Collects the next `count` messages of a sender. */
function collect(sender: StreamSender, count: number): Promise<SenderMessage[]> {
  return new Promise((resolve, reject) => {
    const got: SenderMessage[] = []
    const onMessage = (m: SenderMessage): void => {
      got.push(m)
      if (got.length === count) done(() => resolve(got))
    }
    const onClose = (reason?: Error): void => done(() => reject(reason ?? new Error('closed')))
    const done = (fn: () => void): void => {
      sender.off('message', onMessage)
      sender.off('close', onClose)
      fn()
    }
    sender.on('message', onMessage)
    sender.on('close', onClose)
  })
}

afterEach(() => {
  for (const s of senders.splice(0)) s.close()
  for (const d of open.splice(0)) d.destroy()
})

const status: EthStatusTd = {
  version: 68,
  networkId: 4711n,
  td: 17n,
  bestHash: pattern(32, 1),
  genesisHash: pattern(32, 2),
  forkId: { hash: pattern(4, 3), next: 0n },
}

describe('StreamSender framing', () => {
  it('splits two messages that arrive in one chunk', async () => {
    const { raw, sender } = pair()
    const got = collect(sender, 2)
    const one = RLP.encode([Uint8Array.of(1), pattern(40, 5)])
    const two = RLP.encode([Uint8Array.of(2), [pattern(3, 6)]])
    raw.write(Buffer.concat([frame(EthCode.GetBlockHeaders, one), frame(EthCode.BlockHeaders, two)]))
    const [m1, m2] = await got
    expect(m1.code).toBe(EthCode.GetBlockHeaders)
    expect(Buffer.from(m1.payload as Uint8Array)).toEqual(Buffer.from(one))
    expect(m2.code).toBe(EthCode.BlockHeaders)
    expect(Buffer.from(m2.payload as Uint8Array)).toEqual(Buffer.from(two))
  })

  it('reassembles a message delivered one byte per chunk, and one split mid-prefix', async () => {
    const { raw, sender } = pair()
    const got = collect(sender, 2)
    const small = RLP.encode([pattern(300, 7)]) // 2-byte length prefix, split below
    const bytes = Buffer.concat([frame(EthCode.Transactions, small), frame(EthCode.NewBlockHashes, small)])
    for (let i = 0; i < bytes.length; i++) raw.write(bytes.subarray(i, i + 1))
    const msgs = await got
    expect(msgs.map((m) => m.code)).toEqual([EthCode.Transactions, EthCode.NewBlockHashes])
    for (const m of msgs) expect(Buffer.from(m.payload as Uint8Array)).toEqual(Buffer.from(small))
  })

  it('reassembles a 3 MiB message fed in uneven chunks, with the next message sharing its last chunk', async () => {
    const { raw, sender } = pair()
    const got = collect(sender, 2)
    const big = RLP.encode([pattern(3 * MiB, 8)])
    const tail = RLP.encode([Uint8Array.of(9)])
    const bytes = Buffer.concat([frame(EthCode.BlockBodies, big), frame(EthCode.Transactions, tail)])
    let offset = 0
    for (let size = 1; offset < bytes.length; size = (size * 7 + 3) % 70_001) {
      raw.write(bytes.subarray(offset, offset + size + 1))
      offset += size + 1
    }
    const [m1, m2] = await got
    expect(m1.code).toBe(EthCode.BlockBodies)
    expect(Buffer.compare(Buffer.from(m1.payload as Uint8Array), Buffer.from(big))).toBe(0)
    expect(Buffer.from(m2.payload as Uint8Array)).toEqual(Buffer.from(tail))
  })

  it('carries a > 1 MiB and a near-10 MiB message between two senders intact', async () => {
    const [a, b] = senderPair()
    const got = collect(b, 2)
    const oneMiB = pattern(MiB + 12_345, 10)
    // Leave room for the code byte and the RLP headers below the 10 MiB limit.
    const nearMax = pattern(DEFAULT_STREAM_MAX_MESSAGE_SIZE - 64, 11)
    a.sendMessage(EthCode.BlockBodies, [Uint8Array.of(1), [oneMiB]])
    a.sendMessage(EthCode.BlockBodies, [Uint8Array.of(2), [nearMax]])
    const [m1, m2] = await got
    const d1 = RLP.decode(m1.payload as Uint8Array) as [Uint8Array, Uint8Array[]]
    const d2 = RLP.decode(m2.payload as Uint8Array) as [Uint8Array, Uint8Array[]]
    expect(Array.from(d1[0])).toEqual([1])
    expect(Buffer.compare(Buffer.from(d1[1][0]), Buffer.from(oneMiB))).toBe(0)
    expect(Array.from(d2[0])).toEqual([2])
    expect(Buffer.compare(Buffer.from(d2[1][0]), Buffer.from(nearMax))).toBe(0)
    expect(a.stats.messagesOut).toBe(2)
    expect(b.stats.messagesIn).toBe(2)
    expect(b.stats.bytesIn).toBe(a.stats.bytesOut)
  })

  it('refuses an inbound length prefix above the limit with a typed error and resets the stream', async () => {
    const { raw, sender, stream } = pair({ maxMessageSize: 1024 })
    const errored = nextEvent<[Error]>(sender, 'error')
    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    raw.write(encodeUvarint(1025))
    const [err] = await errored
    expect(err).toBeInstanceOf(EthMessageTooLargeError)
    expect((err as EthMessageTooLargeError).code).toBe('ERR_ETH_MESSAGE_TOO_LARGE')
    expect((err as EthMessageTooLargeError).direction).toBe('inbound')
    const [reason] = await closed
    expect(reason).toBe(err)
    expect(sender.closed).toBe(true)
    expect(stream.destroyed).toBe(true)
  })

  it('refuses an inbound 10 MiB + 1 message at the default limit before buffering its payload', async () => {
    const { raw, sender } = pair()
    const errored = nextEvent<[Error]>(sender, 'error')
    raw.write(Buffer.concat([encodeUvarint(DEFAULT_STREAM_MAX_MESSAGE_SIZE + 1), Uint8Array.of(EthCode.BlockBodies)]))
    const [err] = await errored
    expect(err).toBeInstanceOf(EthMessageTooLargeError)
    expect((err as EthMessageTooLargeError).length).toBe(DEFAULT_STREAM_MAX_MESSAGE_SIZE + 1)
  })

  it('refuses to send a message above the limit without writing anything', () => {
    const { raw, sender, stream } = pair({ maxMessageSize: 1024 })
    let received = 0
    raw.on('data', (c: Buffer) => (received += c.length))
    expect(() => sender.sendMessage(EthCode.BlockBodies, [pattern(1024, 12)])).toThrow(EthMessageTooLargeError)
    expect(stream.bytesWritten).toBe(0)
    expect(received).toBe(0)
    expect(sender.closed).toBe(false)
  })

  it('refuses unusable limits with a typed error naming the option', () => {
    const [a, b] = duplexPair()
    open.push(a, b)
    for (const [opts, option] of [
      [{ maxMessageSize: 0 }, 'maxMessageSize'],
      [{ maxMessageSize: 1.5 }, 'maxMessageSize'],
      [{ maxMessageSize: 1024, maxSendBufferBytes: 1023 }, 'maxSendBufferBytes'],
    ] as const) {
      const err = (() => {
        try {
          new StreamSender(a, { version: 68, ...opts })
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(err).toBeInstanceOf(StreamSenderOptionError)
      expect(err).toMatchObject({ code: 'ERR_ETH_STREAM_OPTION', option })
    }
  })

  it('reports an empty message (no code byte) as a framing error', async () => {
    const { raw, sender } = pair()
    const errored = nextEvent<[Error]>(sender, 'error')
    raw.write(Uint8Array.of(0))
    const [err] = await errored
    expect(err).toBeInstanceOf(StreamFramingError)
    expect((err as StreamFramingError).code).toBe('ERR_ETH_STREAM_FRAMING')
  })

  it('reports a malformed varint prefix as a framing error', async () => {
    const { raw, sender } = pair()
    const errored = nextEvent<[Error]>(sender, 'error')
    raw.write(Buffer.alloc(11, 0xff))
    const [err] = await errored
    expect(err).toBeInstanceOf(StreamFramingError)
  })

  it('decodes Status with the shared codec and delivers it as status', async () => {
    const [a, b] = senderPair()
    const got = nextEvent<[EthStatus]>(b, 'status')
    a.sendStatus(status)
    const [s] = await got
    expect(plainStatus(s as EthStatusTd)).toEqual(plainStatus(status))
  })

  it('reports an undecodable Status as a codec error', async () => {
    const { raw, sender } = pair()
    const errored = nextEvent<[Error]>(sender, 'error')
    raw.write(frame(EthCode.Status, RLP.encode([Uint8Array.of(68)])))
    const [err] = await errored
    expect(err).toBeInstanceOf(EthCodecError)
  })

  it('delivers messages that arrived before anyone listened, in order', async () => {
    const [raw, stream] = duplexPair()
    open.push(raw, stream)
    raw.write(frame(EthCode.Status, RLP.encode(statusRlp())))
    raw.write(frame(EthCode.NewBlockHashes, RLP.encode([])))
    // Let the bytes land in the stream's buffer before the sender exists.
    await nextEvent(stream, 'readable')
    const sender = new StreamSender(stream, { version: 68 })
    senders.push(sender)
    // The sender reads the buffered bytes as soon as it attaches; wait until it has taken both messages in.
    await waitUntil([stream], ['data'], () => sender.stats.messagesIn === 2)
    const order: string[] = []
    sender.on('status', () => order.push('status'))
    sender.on('message', (m) => order.push(`message ${m.code}`))
    sender.start()
    expect(order).toEqual(['status', `message ${EthCode.NewBlockHashes}`])
  })

  it('closes with PeerDisconnectedError when the remote ends the stream', async () => {
    const { raw, sender, stream } = pair()
    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    raw.end()
    const [reason] = await closed
    expect(reason).toBeInstanceOf(PeerDisconnectedError)
    // Our half is ended too, so the stream is released on both sides.
    expect(stream.writableEnded).toBe(true)
  })

  it('closes with PeerDisconnectedError when the stream is reset', async () => {
    const { raw, sender } = pair()
    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    raw.destroy()
    const [reason] = await closed
    expect(reason).toBeInstanceOf(PeerDisconnectedError)
    expect(() => sender.sendMessage(EthCode.Transactions, [])).toThrow(PeerDisconnectedError)
  })

  it('cuts off a peer that stops reading once the send buffer limit is passed', async () => {
    // `raw` never reads: the stream's writes stall after the in-memory pipe's high-water mark.
    const { sender } = pair({ maxMessageSize: 16 * 1024, maxSendBufferBytes: 64 * 1024 })
    const closed = nextEvent<[Error | undefined]>(sender, 'close')
    let thrown: unknown
    for (let i = 0; i < 100 && thrown === undefined; i++) {
      try {
        sender.sendMessage(EthCode.BlockBodies, [pattern(8 * 1024, i + 1)])
      } catch (err) {
        thrown = err
      }
    }
    expect(thrown).toBeInstanceOf(SendBufferFullError)
    expect((thrown as SendBufferFullError).code).toBe('ERR_ETH_SEND_BUFFER_FULL')
    expect(sender.stats.backpressured).toBeGreaterThan(0)
    const [reason] = await closed
    expect(reason).toBe(thrown)
  })
})

function statusRlp(): Input {
  return [Uint8Array.of(68), Uint8Array.of(0x12, 0x67), Uint8Array.of(17), status.bestHash, status.genesisHash, [status.forkId.hash, new Uint8Array(0)]]
}

function plainStatus(s: EthStatusTd): Record<string, unknown> {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
  return { ...s, bestHash: hex(s.bestHash), genesisHash: hex(s.genesisHash), forkId: { hash: hex(s.forkId.hash), next: s.forkId.next } }
}
