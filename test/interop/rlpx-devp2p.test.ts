import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { DISCONNECT_REASON, ETH, EthMessageCodes, Peer as Devp2pPeer, SNAP, pk2id } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { Common } from '../../src/chain-config'
import { sendDisconnect, withClientEth } from '../../src/client/net/server/rlpx/devp2p'
import { readMessages, writeMessage } from '../../src/p2p/codec'
import { secureInbound, secureOutbound } from '../../src/p2p/crypto'
import { RlpxMuxer, RlpxRemoteDisconnectError, type RlpxStream } from '../../src/p2p/rlpx'
import { ETH68, ETH69, SNAP1, closeOf, nodeKey } from '../p2p/rlpx/helpers'
import { tcpPair } from '../p2p/crypto/helpers'
import { within } from '../utils/sockets'
import { DEVP2P_TIMEOUT_MS, ObservedPeer, REASON_CASES, devp2pClose, devp2pConnected } from './devp2p-peer'

// Interop of our RLPx session (secureOutbound/secureInbound + RlpxMuxer) with
// @ethereumjs/devp2p's Peer, both roles, over TCP on 127.0.0.1: Hello,
// capability negotiation, snappy both ways, Ping/Pong, eth and snap messages
// over capability streams, every Disconnect reason in both directions.

const common = Common.custom({ chainId: 1234, name: 'rlpx-interop' })
const DEVP2P_CLIENT_ID = 'devp2p-interop'

interface Session {
  ours: RlpxMuxer
  theirs: ObservedPeer
  socket: Socket
  ourId: Uint8Array
  /** Everything devp2p reported as an error (it must stay empty). */
  errors: Error[]
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})


async function session(role: 'we dial' | 'they dial', opts: { pingIntervalMs?: number } = {}): Promise<Session> {
  const us = nodeKey()
  const them = nodeKey()
  const tcp = await tcpPair()
  cleanup.push(tcp.close)
  const [ourSocket, theirSocket] = role === 'we dial' ? [tcp.client, tcp.server] : [tcp.server, tcp.client]
  const theirs = new ObservedPeer({
    socket: theirSocket,
    remoteId: (role === 'we dial' ? null : us.id) as Uint8Array,
    privateKey: them.privateKey,
    id: pk2id(getPublicKey(them.privateKey, false)),
    timeout: DEVP2P_TIMEOUT_MS,
    clientId: utf8ToBytes(DEVP2P_CLIENT_ID),
    capabilities: withClientEth([ETH.eth66, ETH.eth67, ETH.eth68, SNAP.snap]),
    common,
    port: 0,
  })
  const errors: Error[] = []
  theirs.events.on('error', (e: Error) => errors.push(e))
  const connected = devp2pConnected(theirs)
  connected.catch(() => {})
  const secured =
    role === 'we dial'
      ? await secureOutbound(ourSocket, { privateKey: us.privateKey, remoteId: them.id })
      : await secureInbound(ourSocket, { privateKey: us.privateKey })
  const ours = await within(
    RlpxMuxer.handshake(secured.stream, {
      localId: us.id,
      remoteId: secured.remoteId,
      direction: role === 'we dial' ? 'outbound' : 'inbound',
      capabilities: [ETH68, ETH69, SNAP1],
      clientId: 'ethp2p-interop',
      pingIntervalMs: opts.pingIntervalMs,
    }),
    'our Hello exchange',
  )
  cleanup.push(() => ours.abort(new Error('test cleanup')))
  await within(connected, 'devp2p Hello exchange')
  return { ours, theirs, socket: theirSocket, ourId: us.id, errors }
}

/** Our stream for `protocol`, whichever way the session was set up. */
function streamOf(s: Session, protocol: string): RlpxStream {
  if (s.ours.direction === 'outbound') return s.ours.openStream(protocol)
  let found: RlpxStream | undefined
  s.ours.start()
  for (const stream of s.ours.streams) if (stream.protocol === protocol) found = stream
  if (found === undefined) throw new Error(`no ${protocol} stream`)
  return found
}

function ethOf(peer: Devp2pPeer): ETH {
  return peer.getProtocols().find((p): p is ETH => p instanceof ETH)!
}

function snapOf(peer: Devp2pPeer): SNAP {
  return peer.getProtocols().find((p): p is SNAP => p instanceof SNAP)!
}

/** Next message on a capability stream: [code, decoded RLP payload]. */
async function nextMessage(reader: AsyncGenerator<Uint8Array>): Promise<[number, unknown]> {
  const { value, done } = await reader.next()
  if (done === true) throw new Error('stream ended')
  return [value[0]!, RLP.decode(value.subarray(1))]
}

function devp2pMessage(protocol: ETH | SNAP): Promise<[number, unknown]> {
  return new Promise((resolve) => protocol.events.once('message', (code: number, payload: unknown) => resolve([code, payload])))
}

describe.each(['we dial', 'they dial'] as const)('RLPx interop with @ethereumjs/devp2p (%s)', (role) => {
  it('Hello: both sides see each other, negotiate eth/68 + snap/1 at the spec offsets, compress', async () => {
    const s = await session(role)
    expect(s.ours.remoteHello?.clientId).toBe(DEVP2P_CLIENT_ID)
    expect(s.ours.remoteHello?.protocolVersion).toBe(5)
    expect(s.ours.compression).toBe(true)
    expect(s.ours.capabilities.map((c) => [c.protocol, c.offset])).toEqual([
      ['/eth/68/1.0.0', 0x10],
      ['/snap/1/1.0.0', 0x21],
    ])
    const hello = s.theirs.getHelloMessage()!
    expect(hello.protocolVersion).toBe(5)
    expect(hello.clientId).toBe('ethp2p-interop')
    expect(Buffer.from(hello.id).equals(Buffer.from(s.ourId))).toBe(true)
    expect(s.theirs.getProtocols().map((p) => [p.constructor.name, p instanceof ETH ? p.getVersion() : undefined])).toEqual([
      ['ClientEth', 68],
      ['SNAP', undefined],
    ])
    expect(s.errors).toEqual([])
  })

  it('eth: Status exchange, a request and a 1 MiB response over the capability stream; snap messages both ways', async () => {
    const s = await session(role)
    const eth = streamOf(s, '/eth/68/1.0.0')
    const ethIn = readMessages(eth)
    const theirEth = ethOf(s.theirs)
    const statusDone = new Promise<void>((resolve, reject) => {
      theirEth.events.once('status', () => resolve())
      s.theirs.events.once('error', reject)
    })
    theirEth.sendStatus({ td: Uint8Array.of(1), bestHash: randomBytes(32), genesisHash: randomBytes(32) })
    const [code, status] = await within(nextMessage(ethIn), 'devp2p Status')
    expect(code).toBe(0x00)
    const fields = status as Uint8Array[]
    expect(Array.from(fields[0]!)).toEqual([68])
    // Answer with a Status devp2p accepts: its own network, genesis and fork id.
    writeMessage(eth, [Uint8Array.of(0x00), RLP.encode([68, fields[1]!, 1, randomBytes(32), fields[4]!, fields[5]!])])
    await within(statusDone, 'devp2p accepted our Status')

    theirEth.sendMessage(EthMessageCodes.GET_BLOCK_HEADERS, [Uint8Array.of(7), [Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(), new Uint8Array()]])
    const [reqCode, req] = await within(nextMessage(ethIn), 'GetBlockHeaders')
    expect(reqCode).toBe(0x03)
    expect(Array.from((req as Uint8Array[])[0]!)).toEqual([7])
    const header = randomBytes(1024 * 1024)
    writeMessage(eth, [Uint8Array.of(0x04), RLP.encode([7, [header]])])
    const [resCode, res] = await within(devp2pMessage(theirEth), 'BlockHeaders at devp2p')
    expect(resCode).toBe(EthMessageCodes.BLOCK_HEADERS)
    const [reqId, headers] = res as [Uint8Array, Uint8Array[]]
    expect(Array.from(reqId)).toEqual([7])
    expect(Buffer.from(headers[0]!).equals(header)).toBe(true)

    const snap = streamOf(s, '/snap/1/1.0.0')
    const snapIn = readMessages(snap)
    snapOf(s.theirs).sendMessage(0x00, [Uint8Array.of(9), randomBytes(32), randomBytes(32), randomBytes(32), Uint8Array.of(0x10)])
    const [snapCode] = await within(nextMessage(snapIn), 'GetAccountRange')
    expect(snapCode).toBe(0x00)
    const trieNodes = devp2pMessage(snapOf(s.theirs))
    writeMessage(snap, [Uint8Array.of(0x07), RLP.encode([9, [randomBytes(100)]])])
    expect((await within(trieNodes, 'TrieNodes at devp2p'))[0]).toBe(0x07)
    expect(s.errors).toEqual([])
  })

  it('Ping/Pong both ways', async () => {
    const s = await session(role, { pingIntervalMs: 25 })
    const ourPong = new Promise<number>((resolve) => s.ours.once('pong', resolve))
    expect(await within(ourPong, 'Pong from devp2p')).toBeGreaterThanOrEqual(0)
    const theirPong = new Promise<void>((resolve) => s.theirs.events.once('pong', () => resolve()))
    s.theirs._sendPing()
    await within(theirPong, 'Pong to devp2p')
    expect(s.ours.status).toBe('open')
    expect(s.errors).toEqual([])
  })
})

describe('RLPx interop with @ethereumjs/devp2p: every Disconnect reason', () => {
  it.each(REASON_CASES)('%s from us is reported by devp2p', async (_name, reason) => {
    const s = await session(reason % 2 === 0 ? 'we dial' : 'they dial')
    const reported = devp2pClose(s.theirs)
    await within(s.ours.disconnect(reason), 'our disconnect')
    expect(await within(reported, 'devp2p close')).toEqual([reason, false])
    expect(s.ours.disconnectReason).toEqual({ reason, by: 'local' })
  })

  it.each(REASON_CASES)('%s from devp2p is reported by us', async (_name, reason) => {
    const s = await session(reason % 2 === 0 ? 'they dial' : 'we dial')
    const ended = closeOf(s.ours)
    sendDisconnect(s.theirs, s.socket, reason as unknown as DISCONNECT_REASON)
    const err = await within(ended, 'our close')
    expect(err).toBeInstanceOf(RlpxRemoteDisconnectError)
    expect((err as RlpxRemoteDisconnectError).reason).toBe(reason)
    expect(s.ours.disconnectReason).toEqual({ reason, by: 'remote' })
  })
})
