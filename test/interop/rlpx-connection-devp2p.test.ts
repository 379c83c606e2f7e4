import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { DISCONNECT_REASON, ETH, EthMessageCodes, Peer as Devp2pPeer, pk2id } from '@ethereumjs/devp2p'
import { utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils } from '@noble/secp256k1'
import { afterEach, describe, expect, it, vi } from 'vitest'

import { Common } from '../../src/chain-config'
import { sendDisconnect, withClientEth } from '../../src/client/net/server/rlpx/devp2p'
import { StreamSender } from '../../src/client/net/protocol/streamsender'
import { EthCode, type EthStatus } from '../../src/client/net/protocol/ethmessages'
import {
  type Connection,
  type ConnectionGater,
  DisconnectReason,
  type MuxedStream,
  PeerDeniedError,
  RLPX_MULTIPLEXER,
  Registrar,
  RlpxRemoteDisconnectError,
  Upgrader,
} from '../../src/p2p'
import type { RlpxUpgradeOptions } from '../../src/p2p/upgrader-rlpx'
import { waitForEvent } from '../../src/p2p/util/events'
import { tcpPair } from '../p2p/crypto/helpers'
import { within } from '../utils/sockets'
import { DEVP2P_TIMEOUT_MS, ObservedPeer, REASON_CASES, devp2pClose, devp2pConnected } from './devp2p-peer'

// Interop of RLPx peers through the whole modular stack (Upgrader, Connection,
// Registrar, capability streams, the client's StreamSender framing) with
// @ethereumjs/devp2p's Peer, both roles, over TCP on 127.0.0.1: Hello,
// capability negotiation, snappy both ways, Ping/Pong, eth Status and
// request/response, every Disconnect reason delivered and reported.

const common = Common.custom({ chainId: 1234, name: 'rlpx-connection-interop' })
const DEVP2P_CLIENT_ID = 'devp2p-interop'
const ETH68 = '/eth/68/1.0.0'
const ETH67 = '/eth/67/1.0.0'

type Role = 'we dial' | 'they dial'

interface Session {
  conn: Connection
  /** Our eth stream: claimed with newStream (we dial) or handed to the Registrar handler (they dial). */
  eth: MuxedStream
  theirs: ObservedPeer
  socket: Socket
  ourId: Uint8Array
  errors: Error[]
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function session(role: Role, rlpx: RlpxUpgradeOptions = {}): Promise<Session> {
  const ourKey = utils.randomSecretKey()
  const theirKey = utils.randomSecretKey()
  const theirId = getPublicKey(theirKey, false).subarray(1)
  const registrar = new Registrar()
  const inbound: MuxedStream[] = []
  for (const p of [ETH68, ETH67]) registrar.handle(p, (s) => void inbound.push(s), { maxInboundStreams: 1, maxOutboundStreams: 1 })
  const upgrader = new Upgrader({ privateKey: ourKey, registrar, rlpx: { clientId: 'ethp2p-interop', listenPort: 30303, ...rlpx } })
  const tcp = await tcpPair()
  cleanup.push(tcp.close)
  const [ourSocket, theirSocket] = role === 'we dial' ? [tcp.client, tcp.server] : [tcp.server, tcp.client]
  const theirs = new ObservedPeer({
    socket: theirSocket,
    remoteId: (role === 'we dial' ? null : upgrader.localId) as Uint8Array,
    privateKey: theirKey,
    id: pk2id(getPublicKey(theirKey, false)),
    timeout: DEVP2P_TIMEOUT_MS,
    clientId: utf8ToBytes(DEVP2P_CLIENT_ID),
    capabilities: withClientEth([ETH.eth66, ETH.eth67, ETH.eth68]),
    common,
    port: 0,
  })
  const errors: Error[] = []
  theirs.events.on('error', (e: Error) => errors.push(e))
  const connected = devp2pConnected(theirs)
  connected.catch(() => {})
  if (role === 'we dial') upgrader.rememberRlpx(theirId)
  const conn = await within(
    role === 'we dial' ? upgrader.upgradeOutbound(ourSocket, { remoteId: theirId }) : upgrader.upgradeInbound(ourSocket),
    'our upgrade',
  )
  cleanup.push(() => (conn.status === 'closed' ? undefined : conn.close()))
  await within(connected, 'devp2p Hello exchange')
  let eth: MuxedStream
  if (role === 'we dial') eth = await conn.newStream([ETH68, ETH67])
  else eth = inbound[0] ?? (await waitForEvent<[MuxedStream]>(conn, 'stream', { timeoutMs: 10_000 }))[0]
  return { conn, eth, theirs, socket: theirSocket, ourId: upgrader.localId, errors }
}

function ethOf(peer: Devp2pPeer): ETH {
  return peer.getProtocols().find((p): p is ETH => p instanceof ETH)!
}

function devp2pMessage(eth: ETH): Promise<[number, unknown]> {
  return new Promise((resolve) => eth.events.once('message', (code: number, payload: unknown) => resolve([code, payload])))
}

function closeOf(conn: Connection): Promise<Error | undefined> {
  if (conn.status === 'closed') return Promise.resolve(conn.closeReason)
  return waitForEvent<[Error | undefined]>(conn, 'close', { timeoutMs: 10_000 }).then(([e]) => e)
}

describe.each(['we dial', 'they dial'] as const)('RLPx through the Upgrader and Connection with @ethereumjs/devp2p (%s)', (role) => {
  it('Hello both ways: p2p v5, client ids, node ids; eth/68 is the one shared capability and its stream id is /eth/68/1.0.0', async () => {
    const s = await session(role)
    expect(s.conn.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(s.conn.remoteClientId).toBe(DEVP2P_CLIENT_ID)
    expect(s.eth.protocol).toBe(ETH68)
    expect(s.eth.direction).toBe(role === 'we dial' ? 'outbound' : 'inbound')
    const hello = s.theirs.getHelloMessage()!
    expect(hello.protocolVersion).toBe(5)
    expect(hello.clientId).toBe('ethp2p-interop')
    expect(hello.port).toBe(30303)
    expect(Buffer.from(hello.id).equals(Buffer.from(s.ourId))).toBe(true)
    expect(ethOf(s.theirs).getVersion()).toBe(68)
    expect(s.errors).toEqual([])
  })

  it('eth over the capability stream, framed by StreamSender: Status both ways, requests both ways, a 1 MiB reply (snappy on both sides)', async () => {
    const s = await session(role)
    const sender = new StreamSender(s.eth, { version: 68 })
    const theirEth = ethOf(s.theirs)
    const theirStatus = new Promise<void>((resolve) => theirEth.events.once('status', () => resolve()))
    const ourStatus = new Promise<EthStatus>((resolve) => sender.once('status', resolve))
    const genesis = randomBytes(32)
    theirEth.sendStatus({ td: Uint8Array.of(1), bestHash: randomBytes(32), genesisHash: genesis })
    const status = await within(ourStatus, 'devp2p Status')
    expect(status.version).toBe(68)
    expect(Buffer.from(status.genesisHash).equals(genesis)).toBe(true)
    // devp2p accepts a Status with its own network id, genesis and fork id.
    sender.sendStatus({ ...status, td: 2n, bestHash: randomBytes(32) })
    await within(theirStatus, 'devp2p accepted our Status')

    const request = new Promise<{ code: number; payload: unknown }>((resolve) => sender.once('message', resolve))
    theirEth.sendMessage(EthMessageCodes.GET_BLOCK_HEADERS, [Uint8Array.of(7), [Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(), new Uint8Array()]])
    const got = await within(request, 'GetBlockHeaders from devp2p')
    expect(got.code).toBe(EthCode.GetBlockHeaders)
    const header = randomBytes(1024 * 1024)
    const reply = devp2pMessage(theirEth)
    sender.sendMessage(EthCode.BlockHeaders, [Uint8Array.of(7), [header]])
    const [code, payload] = await within(reply, 'BlockHeaders at devp2p')
    expect(code).toBe(EthMessageCodes.BLOCK_HEADERS)
    expect(Buffer.from((payload as [Uint8Array, Uint8Array[]])[1][0]!).equals(header)).toBe(true)

    const ourRequest = devp2pMessage(theirEth)
    sender.sendMessage(EthCode.GetBlockBodies, [Uint8Array.of(9), [randomBytes(32)]])
    const [reqCode] = await within(ourRequest, 'GetBlockBodies at devp2p')
    expect(reqCode).toBe(EthMessageCodes.GET_BLOCK_BODIES)
    const bodies = new Promise<{ code: number; payload: unknown }>((resolve) => sender.once('message', resolve))
    theirEth.sendMessage(EthMessageCodes.BLOCK_BODIES, [Uint8Array.of(9), [[[], []]]])
    expect((await within(bodies, 'BlockBodies from devp2p')).code).toBe(EthCode.BlockBodies)
    expect(s.errors).toEqual([])
  })

  it('Ping/Pong both ways: our Pings are answered (the session outlives several pong timeouts), theirs get our Pong', async () => {
    const s = await session(role, { pingIntervalMs: 20, pongTimeoutMs: 200 })
    let pings = 0
    await within(
      new Promise<void>((resolve) =>
        s.theirs.events.on('ping', () => {
          if (++pings === 15) resolve()
        }),
      ),
      '15 Pings at devp2p',
    )
    expect(s.conn.status).toBe('open')
    const pong = new Promise<void>((resolve) => s.theirs.events.once('pong', () => resolve()))
    s.theirs._sendPing()
    await within(pong, 'our Pong at devp2p')
    expect(s.errors).toEqual([])
  })
})

describe('RLPx through the Connection with @ethereumjs/devp2p: every Disconnect reason', () => {
  it.each(REASON_CASES)('%s from Connection.close(reason) is reported by devp2p', async (_name, reason) => {
    const s = await session(reason % 2 === 0 ? 'we dial' : 'they dial')
    const reported = devp2pClose(s.theirs)
    await within(s.conn.close(reason), 'our close')
    expect(await within(reported, 'devp2p close')).toEqual([reason, false])
    expect(s.conn.status).toBe('closed')
  })

  it.each(REASON_CASES)('%s from devp2p closes the Connection with that reason', async (_name, reason) => {
    const s = await session(reason % 2 === 0 ? 'they dial' : 'we dial')
    const ended = closeOf(s.conn)
    sendDisconnect(s.theirs, s.socket, reason as unknown as DISCONNECT_REASON)
    const err = await within(ended, 'our close')
    expect(err).toBeInstanceOf(RlpxRemoteDisconnectError)
    expect((err as RlpxRemoteDisconnectError).reason).toBe(reason)
    // The capability stream ends after what arrived: nothing more will.
    if (!s.eth.readableEnded) {
      s.eth.resume()
      await within(waitForEvent(s.eth, 'end', { timeoutMs: 10_000 }), 'the eth stream to end')
    }
  })
})


describe('RLPx through the Upgrader with @ethereumjs/devp2p: a peer the connection gater refuses', () => {
  it.each([
    ['true (USELESS_PEER)', true, DisconnectReason.USELESS_PEER],
    ['ALREADY_CONNECTED', DisconnectReason.ALREADY_CONNECTED, DisconnectReason.ALREADY_CONNECTED],
    ['TOO_MANY_PEERS', DisconnectReason.TOO_MANY_PEERS, DisconnectReason.TOO_MANY_PEERS],
  ] as const)('gater verdict %s: devp2p is sent that Disconnect before any Hello, the upgrade fails with PeerDeniedError', async (_name, verdict, reason) => {
    const theirKey = utils.randomSecretKey()
    const theirId = getPublicKey(theirKey, false).subarray(1)
    const asked: Uint8Array[] = []
    const gater: ConnectionGater = {
      denyInboundPeer: (id) => {
        asked.push(id)
        return verdict
      },
    }
    const registrar = new Registrar()
    registrar.handle(ETH68, () => {}, { maxInboundStreams: 1, maxOutboundStreams: 1 })
    const upgrader = new Upgrader({ privateKey: utils.randomSecretKey(), registrar, gater, rlpx: { clientId: 'ethp2p-interop', listenPort: 30303 } })
    const tcp = await tcpPair()
    cleanup.push(tcp.close)
    const theirs = new ObservedPeer({
      socket: tcp.client,
      remoteId: upgrader.localId,
      privateKey: theirKey,
      id: pk2id(getPublicKey(theirKey, false)),
      timeout: DEVP2P_TIMEOUT_MS,
      clientId: utf8ToBytes(DEVP2P_CLIENT_ID),
      capabilities: withClientEth([ETH.eth68]),
      common,
      port: 0,
    })
    const connected = vi.fn()
    theirs.events.once('connect', connected)
    const received = new Promise<number>((resolve) => theirs.events.once('disconnect-received', resolve))
    const err = await within(upgrader.upgradeInbound(tcp.server).then(() => undefined, (e: unknown) => e), 'our upgrade')
    expect(err).toBeInstanceOf(PeerDeniedError)
    expect((err as PeerDeniedError).reason).toBe(reason)
    expect(Buffer.from(asked[0]!).equals(Buffer.from(theirId))).toBe(true)
    expect(await within(received, 'the Disconnect at devp2p')).toBe(reason)
    // devp2p ends its socket on a Disconnect; ours closes in turn, well before the linger would.
    if (!tcp.server.destroyed) await within(waitForEvent(tcp.server, 'close', { timeoutMs: 10_000 }), 'our socket to close')
    expect(connected).not.toHaveBeenCalled()
  })
})
