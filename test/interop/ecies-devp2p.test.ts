import { afterEach, describe, expect, it } from 'vitest'
import {
  FrameMacError,
  FrameTooLargeError,
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  secureInbound,
  secureOutbound,
  type SecureConnection,
} from '../../src/p2p/crypto/index'
import { Devp2pPeer } from '../p2p/crypto/devp2p-driver'
import { errorOf, hex, nodeKey, randomBytes, readBytes, tcpPair, within } from '../p2p/crypto/helpers'

// Interop of our ECIES channel with @ethereumjs/devp2p's ECIES class, both roles,
// over real TCP on 127.0.0.1: handshake (EIP-8 and legacy) and frames both ways.

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

const FRAME_SIZES = [1, 15, 16, 17, 1000, 70_000, 300_000]

async function exchangeFrames(ours: SecureConnection, theirs: Devp2pPeer): Promise<void> {
  // devp2p -> us: one devp2p frame per message; our reader sees one byte stream
  const fromThem = FRAME_SIZES.map((n) => randomBytes(n))
  for (const m of fromThem) theirs.sendFrame(m)
  const total = fromThem.reduce((n, m) => n + m.length, 0)
  expect((await within(readBytes(ours.stream, total), 20_000, 'frames from devp2p')).equals(Buffer.concat(fromThem))).toBe(true)

  // us -> devp2p: a big write (several frames) and a burst of small ones (coalesced)
  const big = randomBytes(700_000)
  ours.stream.write(big)
  const small = Array.from({ length: 50 }, (_, i) => Buffer.from(`small-${i}|`))
  for (const s of small) ours.stream.write(s)
  const expected = Buffer.concat([big, ...small])
  expect((await within(theirs.readBytes(expected.length), 20_000, 'frames to devp2p')).equals(expected)).toBe(true)
}

async function connected(): Promise<Awaited<ReturnType<typeof tcpPair>>> {
  const pair = await tcpPair()
  cleanup.push(pair.close)
  return pair
}

describe('ECIES interop with @ethereumjs/devp2p', () => {
  it.each(['eip8', 'legacy'] as const)('devp2p dials us with a %s auth; frames flow both ways', async (format) => {
    const us = nodeKey()
    const them = nodeKey()
    const { client, server } = await connected()
    const devp2p = new Devp2pPeer(client, them.privateKey, us.id)
    const [ours] = await within(Promise.all([secureInbound(server, { privateKey: us.privateKey }), devp2p.initiate(format)]), 10_000, 'handshake')
    cleanup.push(() => ours.stream.destroy())
    expect(hex(ours.remoteId)).toBe(hex(them.id))
    await exchangeFrames(ours, devp2p)
  })

  it.each(['eip8', 'legacy'] as const)('we dial devp2p, which answers with a %s ack; frames flow both ways', async (ack) => {
    const us = nodeKey()
    const them = nodeKey()
    const { client, server } = await connected()
    const devp2p = new Devp2pPeer(server, them.privateKey, null)
    const [ours] = await within(
      Promise.all([secureOutbound(client, { privateKey: us.privateKey, remoteId: them.id }), devp2p.respond(ack)]),
      10_000,
      'handshake',
    )
    cleanup.push(() => ours.stream.destroy())
    expect(hex(ours.remoteId)).toBe(hex(them.id))
    await exchangeFrames(ours, devp2p)
  })

  it("keeps devp2p's first frame when it arrives in the same write as the ack", async () => {
    const us = nodeKey()
    const them = nodeKey()
    const { client, server } = await connected()
    const devp2p = new Devp2pPeer(server, them.privateKey, null)
    const first = randomBytes(5000)
    const [ours] = await within(
      Promise.all([secureOutbound(client, { privateKey: us.privateKey, remoteId: them.id }), devp2p.respond('eip8', first)]),
      10_000,
      'handshake',
    )
    cleanup.push(() => ours.stream.destroy())
    expect((await within(readBytes(ours.stream, first.length), 5000, 'first frame')).equals(first)).toBe(true)
  })

  it('a devp2p frame announcing more than our inbound limit ends with FrameTooLargeError', async () => {
    const us = nodeKey()
    const them = nodeKey()
    const { client, server } = await connected()
    const devp2p = new Devp2pPeer(client, them.privateKey, us.id)
    const [ours] = await within(Promise.all([secureInbound(server, { privateKey: us.privateKey }), devp2p.initiate('eip8')]), 10_000, 'handshake')
    cleanup.push(() => ours.stream.destroy())
    const failure = errorOf(ours.stream)
    ours.stream.resume()
    client.write(devp2p.header(DEFAULT_MAX_INBOUND_FRAME_SIZE + 1))
    expect(await within(failure, 5000, 'oversize')).toBeInstanceOf(FrameTooLargeError)
    expect(server.destroyed).toBe(true)
  })

  it('a devp2p frame with one flipped bit ends with FrameMacError', async () => {
    const us = nodeKey()
    const them = nodeKey()
    const { client, server } = await connected()
    const devp2p = new Devp2pPeer(server, them.privateKey, null)
    const [ours] = await within(
      Promise.all([secureOutbound(client, { privateKey: us.privateKey, remoteId: them.id }), devp2p.respond('eip8')]),
      10_000,
      'handshake',
    )
    cleanup.push(() => ours.stream.destroy())
    const frame = devp2p.frame(randomBytes(64))
    frame[40]! ^= 0x80
    const failure = errorOf(ours.stream)
    ours.stream.resume()
    server.write(frame)
    expect(await within(failure, 5000, 'MAC failure')).toBeInstanceOf(FrameMacError)
    expect(client.destroyed).toBe(true)
  })
})
