import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { RLP } from '@ethereumjs/rlp'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeMessage, readMessages, writeMessage } from '../../../src/p2p/codec'
import {
  DisconnectReason,
  PING_MSG,
  PONG_MSG,
  RlpxCapabilityNotSharedError,
  RlpxCapabilityStreamError,
  RlpxInvalidOptionError,
  RlpxMuxer,
  RlpxRemoteDisconnectError,
  RlpxSessionClosedError,
  type RlpxStream,
  snappyUncompress,
} from '../../../src/p2p/rlpx'
import { within } from '../../utils/sockets'
import { ETH68, ETH69, RawPeer, SNAP1, closeOf, rawAgainstSession, securePair, sessionPair } from './helpers'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function pair(opts: Parameters<typeof sessionPair>[0] = {}) {
  const p = await within(sessionPair(opts), 'Hello exchange')
  cleanup.push(p.close)
  return p
}

/** The listener's streams as start() hands them out. */
function inbound(muxer: Awaited<ReturnType<typeof pair>>['listener']): RlpxStream[] {
  const got: RlpxStream[] = []
  muxer.start((s) => got.push(s))
  return got
}

async function nextMessage(stream: RlpxStream): Promise<Uint8Array> {
  for await (const msg of readMessages(stream)) return msg
  throw new Error('stream ended without a message')
}

describe('RlpxMuxer: Hello and capabilities', () => {
  it('exchanges Hellos, shares the highest common version, compresses between v5 peers', async () => {
    const { dialer, listener, keys } = await pair({
      dialer: { capabilities: [ETH68, ETH69, SNAP1], clientId: 'dialer/1' },
      listener: { capabilities: [ETH68, ETH69], clientId: 'listener/1' },
    })
    expect(dialer.status).toBe('open')
    expect(dialer.compression).toBe(true)
    expect(listener.compression).toBe(true)
    expect(dialer.remoteHello?.clientId).toBe('listener/1')
    expect(Buffer.from(listener.remoteHello!.nodeId).equals(Buffer.from(keys.dialer.id))).toBe(true)
    expect(dialer.capabilities.map((c) => [c.protocol, c.offset])).toEqual([['/eth/69/1.0.0', 0x10]])
    expect(listener.capabilities).toEqual(dialer.capabilities)
  })

  it('the listener hands out every shared stream; the dialer claims them by protocol id', async () => {
    const caps = [ETH69, SNAP1]
    const { dialer, listener } = await pair({ dialer: { capabilities: caps }, listener: { capabilities: caps } })
    const got = inbound(listener)
    expect(got.map((s) => [s.protocol, s.id, s.direction])).toEqual([
      ['/eth/69/1.0.0', 0x10, 'inbound'],
      ['/snap/1/1.0.0', 0x10 + 18, 'inbound'],
    ])
    expect(listener.streams).toHaveLength(2)
    dialer.start(() => expect.unreachable('the dialer announces nothing'))
    const eth = dialer.openStream(['/eth/70/1.0.0', '/eth/69/1.0.0'])
    expect([eth.protocol, eth.direction]).toEqual(['/eth/69/1.0.0', 'outbound'])
    expect(() => dialer.openStream('/eth/69/1.0.0')).toThrow(RlpxCapabilityNotSharedError)
    expect(() => dialer.openStream('/les/4/1.0.0')).toThrow(RlpxCapabilityNotSharedError)
    expect(dialer.streams).toEqual([eth])
  })
})

describe('RlpxMuxer: capability streams', () => {
  it('carries uvarint-framed messages both ways, code relative to the capability', async () => {
    const caps = [ETH69, SNAP1]
    const { dialer, listener } = await pair({ dialer: { capabilities: caps }, listener: { capabilities: caps } })
    const [lEth, lSnap] = inbound(listener)
    const dSnap = dialer.openStream('/snap/1/1.0.0')
    const dEth = dialer.openStream('/eth/69/1.0.0')
    const status = RLP.encode([69, 1, randomBytes(32)])
    writeMessage(dEth, [Uint8Array.of(0x00), status])
    writeMessage(dSnap, [Uint8Array.of(0x07), RLP.encode([1, []])])
    const gotEth = await within(nextMessage(lEth!), 'eth message')
    expect(Buffer.from(gotEth).equals(Buffer.concat([Buffer.of(0), status]))).toBe(true)
    const gotSnap = await within(nextMessage(lSnap!), 'snap message')
    expect(gotSnap[0]).toBe(0x07)
    writeMessage(lEth!, [Uint8Array.of(0x11), RLP.encode([0, 10, randomBytes(32)])])
    expect((await within(nextMessage(dEth), 'reply'))[0]).toBe(0x11)
  })

  it('puts capability code c on the wire as offset + c, snappy-compressed', async () => {
    const { raw, handshake, keys } = await rawAgainstSession({ capabilities: [ETH68] })
    cleanup.push(() => raw.channel.destroy())
    raw.sendHello({ id: keys.raw.id, capabilities: [ETH68] })
    const session = await within(handshake, 'handshake')
    cleanup.push(() => session.abort(new Error('cleanup')))
    raw.compressed = true
    const [eth] = inbound(session)
    const payload = RLP.encode([7, [1, 2, 0, 0]])
    writeMessage(eth!, [Uint8Array.of(0x03), payload])
    const msg = await within(raw.waitFor(0x13), 'GetBlockHeaders on the wire')
    expect(Buffer.from(snappyUncompress(msg.data, 1024)).equals(Buffer.from(payload))).toBe(true)
    // and inbound: 0x14 is BlockHeaders (0x04) of eth at 0x10
    raw.send(0x14, RLP.encode([7, []]))
    const got = await within(nextMessage(eth!), 'BlockHeaders')
    expect(Buffer.from(got).equals(Buffer.from(encodeMessage([Uint8Array.of(0x04), RLP.encode([7, []])]).subarray(1)))).toBe(true)
  })

  it('speaks uncompressed to a p2p v4 peer', async () => {
    const { raw, handshake, keys } = await rawAgainstSession()
    cleanup.push(() => raw.channel.destroy())
    raw.sendHello({ id: keys.raw.id, protocolVersion: 4 })
    const session = await within(handshake, 'handshake')
    cleanup.push(() => session.abort(new Error('cleanup')))
    expect(session.compression).toBe(false)
    const [eth] = inbound(session)
    const payload = RLP.encode([1, 2, 3])
    writeMessage(eth!, [Uint8Array.of(0x02), payload])
    const msg = await within(raw.waitFor(0x12), 'Transactions')
    expect(Buffer.from(msg.data).equals(Buffer.from(payload))).toBe(true)
  })

  it('accepts a Hello of a higher p2p version with extra fields', async () => {
    const { raw, handshake, keys } = await rawAgainstSession()
    cleanup.push(() => raw.channel.destroy())
    raw.send(0, RLP.encode([6, 'future/1', [['eth', 68, 'x']], 0, keys.raw.id, 'extra', [1, 2]]), false)
    const session = await within(handshake, 'handshake')
    cleanup.push(() => session.abort(new Error('cleanup')))
    expect(session.remoteHello?.protocolVersion).toBe(6)
    expect(session.compression).toBe(true)
  })

  it('moves a 5 MiB message each way intact', async () => {
    const { dialer, listener } = await pair({ transport: 'tcp' })
    const [lEth] = inbound(listener)
    const dEth = dialer.openStream('/eth/68/1.0.0')
    const big = RLP.encode([randomBytes(5 * 1024 * 1024)])
    writeMessage(dEth, [Uint8Array.of(0x06), big])
    const got = await within(nextMessage(lEth!), 'big message')
    expect(got.length).toBe(1 + big.length)
    expect(Buffer.from(got.subarray(1)).equals(Buffer.from(big))).toBe(true)
    writeMessage(lEth!, [Uint8Array.of(0x10), big])
    const back = await within(nextMessage(dEth), 'big reply')
    expect(Buffer.from(back.subarray(1)).equals(Buffer.from(big))).toBe(true)
  })

  it('an unread stream stops the session reading; reading resumes it (backpressure reaches TCP)', async () => {
    const { dialer, listener } = await pair({ transport: 'tcp', listener: { streamHighWaterMark: 64 * 1024 } })
    const [lEth] = inbound(listener)
    const dEth = dialer.openStream('/eth/68/1.0.0')
    const chunk = RLP.encode([randomBytes(256 * 1024)])
    const count = 128
    let written = 0
    const writing = (async () => {
      for (; written < count; written++) {
        if (!writeMessage(dEth, [Uint8Array.of(0x02), chunk])) await once(dEth, 'drain')
      }
    })()
    await within(once(listener, 'pause'), 'reader congested')
    expect(listener.readPaused).toBe(true)
    // 32 MiB cannot all sit in socket buffers: the writer is held back while nobody reads.
    expect(written).toBeLessThan(count)
    const resumed = once(listener, 'resume')
    let received = 0
    for await (const msg of readMessages(lEth!)) {
      expect(msg.length).toBe(1 + chunk.length)
      if (++received === count) break
    }
    await within(writing, 'writer done')
    await within(resumed, 'resumed')
    expect(received).toBe(count)
  })
})

describe('RlpxMuxer: ending', () => {
  it('disconnect(reason) reaches the remote, both sides report it', async () => {
    const { dialer, listener } = await pair()
    const remoteEnd = closeOf(listener)
    await within(dialer.disconnect(DisconnectReason.TOO_MANY_PEERS), 'graceful disconnect')
    const err = await within(remoteEnd, 'remote close')
    expect(err).toBeInstanceOf(RlpxRemoteDisconnectError)
    expect((err as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.TOO_MANY_PEERS)
    expect(listener.disconnectReason).toEqual({ reason: DisconnectReason.TOO_MANY_PEERS, by: 'remote' })
    expect(dialer.disconnectReason).toEqual({ reason: DisconnectReason.TOO_MANY_PEERS, by: 'local' })
    expect(dialer.closeReason).toBeUndefined()
  })

  it('a graceful close delivers writes queued before it; messages received before a remote Disconnect stay readable', async () => {
    const { dialer, listener } = await pair()
    const [lEth] = inbound(listener)
    const dEth = dialer.openStream('/eth/68/1.0.0')
    for (let i = 0; i < 20; i++) writeMessage(dEth, [Uint8Array.of(0x02), RLP.encode([i, randomBytes(1000)])])
    const closing = dialer.close()
    const got: number[] = []
    for await (const msg of readMessages(lEth!)) got.push((RLP.decode(msg.subarray(1)) as Uint8Array[])[0]![0] ?? 0)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i))
    await within(closing, 'close')
    expect(listener.disconnectReason).toEqual({ reason: DisconnectReason.DISCONNECT_REQUESTED, by: 'remote' })
  })

  it('end() of a capability stream disconnects the session with DISCONNECT_REQUESTED', async () => {
    const { dialer, listener } = await pair()
    const remoteEnd = closeOf(listener)
    dialer.openStream('/eth/68/1.0.0').end()
    const err = await within(remoteEnd, 'remote close')
    expect((err as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.DISCONNECT_REQUESTED)
    await within(closeOf(dialer), 'local close')
  })

  it('reset() of a capability stream disconnects the session with SUBPROTOCOL_ERROR', async () => {
    const { dialer, listener } = await pair()
    const remoteEnd = closeOf(listener)
    const localEnd = closeOf(dialer)
    dialer.openStream('/eth/68/1.0.0').reset()
    expect((await within(remoteEnd, 'remote close')) as RlpxRemoteDisconnectError).toMatchObject({ reason: DisconnectReason.SUBPROTOCOL_ERROR })
    expect(await within(localEnd, 'local close')).toBeInstanceOf(RlpxCapabilityStreamError)
  })

  it('a write outside the capability (code ≥ its length) fails the stream and ends the session', async () => {
    const { dialer, listener } = await pair()
    const remoteEnd = closeOf(listener)
    const eth = dialer.openStream('/eth/68/1.0.0')
    const failed = new Promise<Error>((resolve) => eth.once('error', resolve))
    writeMessage(eth, [Uint8Array.of(17), RLP.encode([])])
    expect(await within(failed, 'write error')).toBeInstanceOf(RlpxCapabilityStreamError)
    expect((await within(remoteEnd, 'remote close')) as RlpxRemoteDisconnectError).toMatchObject({ reason: DisconnectReason.SUBPROTOCOL_ERROR })
  })

  it('openStream after the end throws RlpxSessionClosedError; close() is idempotent', async () => {
    const { dialer } = await pair()
    await within(dialer.close(), 'close')
    await dialer.close()
    expect(() => dialer.openStream('/eth/68/1.0.0')).toThrow(RlpxSessionClosedError)
    expect(dialer.status).toBe('closed')
  })
})

describe('RlpxMuxer: limits', () => {
  it('destroys the connection disconnectTimeoutMs after its Disconnect when the remote keeps it open', async () => {
    const { raw, handshake, keys, close } = await rawAgainstSession({ disconnectTimeoutMs: 50 }, { closeOnEnd: false })
    cleanup.push(close)
    raw.sendHello({ id: keys.raw.id })
    raw.compressed = true
    const session = await within(handshake, 'handshake')
    const started = performance.now()
    await within(session.disconnect(DisconnectReason.CLIENT_QUITTING), 'disconnect')
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
    expect(await raw.disconnectReason()).toBe(DisconnectReason.CLIENT_QUITTING)
    expect(raw.ended).toBe(true)
    expect(session.status).toBe('closed')
  })

  it('maxMessageSize caps every capability below its own limit, both ways', async () => {
    const { dialer } = await pair({ dialer: { maxMessageSize: 1000 } })
    const dEth = dialer.openStream('/eth/68/1.0.0')
    const failed = new Promise<Error>((resolve) => dEth.once('error', resolve))
    writeMessage(dEth, [Uint8Array.of(0x02), new Uint8Array(1000)])
    expect(await within(failed, 'outbound limit')).toMatchObject({ code: 'ERR_RLPX_MESSAGE_TOO_LARGE', limit: 999 })

    const { raw, handshake, keys, close } = await rawAgainstSession({ maxMessageSize: 1000 })
    cleanup.push(close)
    raw.sendHello({ id: keys.raw.id })
    raw.compressed = true
    const session = await within(handshake, 'handshake')
    raw.send(0x12, new Uint8Array(1000))
    expect(await within(closeOf(session), 'inbound limit')).toMatchObject({ code: 'ERR_RLPX_MESSAGE_TOO_LARGE', size: 1000, limit: 999 })
  })

  it('refuses options out of range', async () => {
    const { listener, close } = await securePair()
    cleanup.push(close)
    const base = { localId: new Uint8Array(64).fill(1), remoteId: new Uint8Array(64).fill(2), direction: 'inbound' as const, capabilities: [ETH68] }
    const bad = [
      { ...base, localId: new Uint8Array(32) },
      { ...base, capabilities: [] },
      { ...base, capabilities: [ETH68, ETH68] },
      { ...base, capabilities: [{ name: 'toolongname', version: 1, length: 1 }] },
      { ...base, capabilities: [{ name: 'eth', version: 68, length: 0 }] },
      { ...base, pongTimeoutMs: -1 },
      { ...base, pingIntervalMs: 2 ** 31 },
      { ...base, maxPingsPerWindow: 0 },
      { ...base, maxMessageSize: 0x1000000 },
      { ...base, listenPort: 70000 },
    ]
    for (const opts of bad) await expect(RlpxMuxer.handshake(listener, opts), JSON.stringify(Object.keys(opts))).rejects.toBeInstanceOf(RlpxInvalidOptionError)
    expect(listener.frameMode, 'an invalid call leaves the channel alone').toBe(false)
  })
})

describe('RlpxMuxer: keep-alive', () => {
  it('pings on its interval and the remote answers (Pong RTT reported)', async () => {
    const { dialer } = await pair({ dialer: { pingIntervalMs: 20, pongTimeoutMs: 5_000 } })
    const pongs: number[] = []
    await within(
      new Promise<void>((resolve) => {
        dialer.on('pong', (rtt: number) => {
          pongs.push(rtt)
          if (pongs.length === 3) resolve()
        })
      }),
      'three Pongs',
    )
    expect(pongs.every((rtt) => rtt >= 0)).toBe(true)
    expect(dialer.status).toBe('open')
  })

  it('answers each Ping with a Pong', async () => {
    const { raw, handshake, keys } = await rawAgainstSession()
    cleanup.push(() => raw.channel.destroy())
    raw.sendHello({ id: keys.raw.id })
    const session = await within(handshake, 'handshake')
    cleanup.push(() => session.abort(new Error('cleanup')))
    raw.compressed = true
    const mark = raw.received.length
    raw.send(PING_MSG, RLP.encode([]))
    const pong = await within(raw.waitFor(PONG_MSG, mark), 'Pong')
    expect(Buffer.from(raw.payload(pong))).toEqual(Buffer.from([0xc0]))
  })
})

describe('RawPeer sanity', () => {
  it('records the session Hello', async () => {
    const { raw, close } = await rawAgainstSession()
    cleanup.push(close)
    const hello = await within(raw.waitFor(0), 'Hello')
    expect(RawPeer).toBeDefined()
    expect((RLP.decode(hello.data) as unknown[]).length).toBe(5)
  })
})
