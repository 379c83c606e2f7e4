import net from 'node:net'
import { Mainnet, createCustomCommon } from '@ethereumjs/common'
import { ETH, RLPx } from '@ethereumjs/devp2p'
import { getPublicKey, utils } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { readMessages, writeMessage } from '../../../src/p2p/codec'
import type { Connection } from '../../../src/p2p/connection'
import { secureInbound } from '../../../src/p2p/crypto'
import { MPLEX_PROTOCOL_ID } from '../../../src/p2p/muxer'
import type { MuxedStream } from '../../../src/p2p/muxed-stream'
import {
  DISCONNECT_MSG,
  DisconnectReason,
  HELLO_MSG,
  RLPX_MULTIPLEXER,
  RlpxInvalidOptionError,
  RlpxNoSharedCapabilityError,
  RlpxRemoteDisconnectError,
  RlpxStream,
} from '../../../src/p2p/rlpx'
import { ProtocolNotSupportedError, RlpxHandshakeFailedError, UpgradeTimeoutError } from '../../../src/p2p/stack-errors'
import type { InboundUpgradeError } from '../../../src/p2p/transport'
import { RlpxPeerMemory } from '../../../src/p2p/upgrader-rlpx'
import { waitForEvent } from '../../../src/p2p/util/events'
import { tcpPair } from '../crypto/helpers'
import { RawPeer } from '../rlpx/helpers'
import { EVENT_TIMEOUT_MS, closeConnection } from './helpers'
import { type TestNode, connectPair, listen, makeNode } from './nodes'

/**
 * RLPx peers through the whole stack (Transport, Upgrader, Connection,
 * Registrar): the first-frame rule on the listener, the remembered-RLPx dial
 * and the redial after a Hello, capability streams handed to handlers, what
 * end/reset/close/abort do, the upgrade deadline over the Hello phase.
 */

const ETH69 = '/eth/69/1.0.0'
const ETH68 = '/eth/68/1.0.0'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function ethNode(protocols: string[], opts: Parameters<typeof makeNode>[0] = {}): { node: TestNode; inbound: MuxedStream[] } {
  const node = makeNode(opts)
  const inbound: MuxedStream[] = []
  for (const p of protocols) node.registrar.handle(p, (s) => void inbound.push(s), { maxInboundStreams: 1, maxOutboundStreams: 1 })
  return { node, inbound }
}

/** Two stack nodes talking RLPx: the dialer remembers the listener as an RLPx node. */
async function rlpxPair(dialerProtocols = [ETH69, ETH68], listenerProtocols = [ETH69, ETH68], opts: Parameters<typeof makeNode>[0] = {}) {
  const a = ethNode(dialerProtocols, opts)
  const b = ethNode(listenerProtocols, opts)
  const l = await listen(b.node)
  cleanups.push(() => l.close())
  a.node.upgrader.rememberRlpx(b.node.id)
  const { out, inb } = await connectPair(a.node, b.node, l)
  cleanups.push(() => closeConnection(out), () => closeConnection(inb))
  return { a, b, out, inb, listener: l }
}

function closeReason(conn: Connection): Promise<Error | undefined> {
  if (conn.status === 'closed') return Promise.resolve(conn.closeReason)
  return waitForEvent<[Error | undefined]>(conn, 'close', { timeoutMs: EVENT_TIMEOUT_MS }).then(([err]) => err)
}

async function firstInbound(list: MuxedStream[], conn: Connection): Promise<MuxedStream> {
  if (list.length > 0) return list[0]!
  const [stream] = await waitForEvent<[MuxedStream]>(conn, 'stream', { timeoutMs: EVENT_TIMEOUT_MS })
  return stream
}

describe('RLPx connections between two stack nodes', () => {
  it('carry each shared capability as a stream: the highest shared eth version, offered to the handler with its stream id', async () => {
    const { b, out, inb } = await rlpxPair()
    expect(out.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(inb.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(out.remoteClientId).toBe('ethp2p')
    const theirs = await firstInbound(b.inbound, inb)
    expect(theirs).toBeInstanceOf(RlpxStream)
    expect(theirs.protocol).toBe(ETH69)
    expect(theirs.direction).toBe('inbound')
    // Proposals go highest first, as with mplex; only the shared one exists.
    const ours = await out.newStream([ETH69, ETH68])
    expect(ours.protocol).toBe(ETH69)
    expect(out.streams).toEqual([ours])
    const msgs = readMessages(theirs)
    writeMessage(ours, [Uint8Array.of(0x00), Uint8Array.of(0xc1, 0x45)])
    const { value } = await msgs.next()
    expect(Array.from(value as Uint8Array)).toEqual([0x00, 0xc1, 0x45])
    expect(out.stats.streamsOpened).toBe(1)
    expect(inb.stats.streamsOpened).toBe(1)
  })

  it('newStream for a capability the Hellos did not share is ProtocolNotSupportedError; a second eth stream hits the outbound limit', async () => {
    const { out } = await rlpxPair([ETH68], [ETH69, ETH68])
    const err = await out.newStream(['/snap/1/1.0.0']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect(out.status).toBe('open')
    await out.newStream(ETH68)
    await expect(out.newStream(ETH68)).rejects.toThrow(/too many outbound streams/)
  })

  it('close(reason) reaches the remote as a Disconnect with that reason', async () => {
    const { out, inb } = await rlpxPair()
    const theirs = closeReason(inb)
    await out.close(DisconnectReason.TOO_MANY_PEERS)
    const err = await theirs
    expect(err).toBeInstanceOf(RlpxRemoteDisconnectError)
    expect((err as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.TOO_MANY_PEERS)
    expect(out.closeReason).toBeUndefined()
  })

  it('abort(err) still writes the Disconnect before the socket goes (reason from the error)', async () => {
    const { out, inb } = await rlpxPair()
    const theirs = closeReason(inb)
    out.abort(new Error('local failure'))
    expect((await theirs as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.SUBPROTOCOL_ERROR)
    await closeReason(out)
  })

  it("a capability stream's end() disconnects the whole session gracefully; reset() ends it with SUBPROTOCOL_ERROR", async () => {
    const first = await rlpxPair()
    const stream = await first.out.newStream(ETH69)
    const theirs = closeReason(first.inb)
    stream.end()
    expect((await theirs as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.DISCONNECT_REQUESTED)

    const second = await rlpxPair()
    const s2 = await second.out.newStream(ETH69)
    s2.on('error', () => {})
    const theirs2 = closeReason(second.inb)
    s2.reset()
    expect((await theirs2 as RlpxRemoteDisconnectError).reason).toBe(DisconnectReason.SUBPROTOCOL_ERROR)
  })

  it('what a node dialed with is what it is remembered as: RLPx in, dial it as RLPx; multistream-select in, dial it with mplex', async () => {
    const pair = await rlpxPair()
    expect(pair.b.node.upgrader.speaksRlpx(pair.a.node.id)).toBe(true)

    const a = ethNode([ETH69])
    const b = ethNode([ETH69])
    const la = await listen(a.node)
    const lb = await listen(b.node)
    cleanups.push(() => la.close(), () => lb.close())
    a.node.upgrader.rememberRlpx(b.node.id)
    // b dials a with mplex (b has no memory of a): a learns that b speaks multistream-select.
    const back = await connectPair(b.node, a.node, la)
    cleanups.push(() => closeConnection(back.out))
    expect(back.inb.multiplexer).toBe(MPLEX_PROTOCOL_ID)
    expect(a.node.upgrader.speaksRlpx(b.node.id)).toBe(false)
    await closeConnection(back.out)
    const again = await connectPair(a.node, b.node, lb)
    cleanups.push(() => closeConnection(again.out))
    expect(again.out.multiplexer).toBe(MPLEX_PROTOCOL_ID)
  })
})

describe('the Upgrader with RLPx peers', () => {
  it("bounds the Hello phase with its one deadline (phase 'hello'); the silent remote gets Disconnect TIMEOUT", async () => {
    const a = ethNode([ETH69], { handshakeTimeoutMs: 300 })
    const remote = makeNode()
    const tcp = await tcpPair()
    cleanups.push(tcp.close)
    a.node.upgrader.rememberRlpx(remote.id)
    const silentSide = secureInbound(tcp.server, { privateKey: remote.privateKey })
    const upgrade = a.node.upgrader.upgradeOutbound(tcp.client, { remoteId: remote.id }).catch((e: unknown) => e)
    const raw = new RawPeer((await silentSide).stream)
    const err = await upgrade
    expect(err).toBeInstanceOf(UpgradeTimeoutError)
    expect((err as UpgradeTimeoutError).phase).toBe('hello')
    expect((await raw.waitFor(HELLO_MSG)).id).toBe(HELLO_MSG)
    await raw.waitFor(DISCONNECT_MSG)
    expect(await raw.disconnectReason()).toBe(DisconnectReason.TIMEOUT)
  })

  it('refuses bad RLPx options at construction', () => {
    expect(() => makeNode({ rlpx: { maxRememberedPeers: 0 } })).toThrow(RlpxInvalidOptionError)
    expect(() => makeNode({ rlpx: { pingIntervalMs: -1 } })).toThrow(RlpxInvalidOptionError)
    expect(() => makeNode({ rlpx: { listenPort: 70_000 } })).toThrow(RlpxInvalidOptionError)
  })

  it('remembers at most maxRememberedPeers RLPx nodes, the least recently used dropped', () => {
    const memory = new RlpxPeerMemory(2)
    const ids = [1, 2, 3].map((n) => new Uint8Array(64).fill(n))
    memory.add(ids[0]!)
    memory.add(ids[1]!)
    expect(memory.has(ids[0]!)).toBe(true) // now the most recent
    memory.add(ids[2]!)
    expect([memory.has(ids[0]!), memory.has(ids[1]!), memory.has(ids[2]!)]).toEqual([true, false, true])
    expect(memory.size).toBe(2)
    const node = makeNode({ rlpx: { maxRememberedPeers: 1 } })
    node.upgrader.rememberRlpx(ids[0]!)
    node.upgrader.rememberRlpx(ids[1]!)
    expect([node.upgrader.speaksRlpx(ids[0]!), node.upgrader.speaksRlpx(ids[1]!)]).toEqual([false, true])
  })
})

function devp2pNode(): { rlpx: RLPx; id: Uint8Array; connections: () => number } {
  const key = utils.randomSecretKey()
  const common = createCustomCommon({ chainId: 1234 }, Mainnet)
  const rlpx = new RLPx(key, { dpt: null, maxPeers: 5, capabilities: [ETH.eth68], common, listenPort: null })
  rlpx.events.on('error', () => {})
  rlpx.events.on('peer:error', () => {})
  cleanups.push(() => rlpx.destroy())
  let accepted = 0
  const server = (rlpx as unknown as { _server: net.Server | null })._server
  server?.on('connection', () => accepted++)
  return { rlpx, id: getPublicKey(key, false).slice(1), connections: () => accepted }
}

/** RLPx does not expose the port it bound, so reserve an ephemeral one first (the only race here). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

describe('@ethereumjs/devp2p RLPx nodes (the connection manager, as a devp2p node runs it)', () => {
  it('dialing one: multistream-select, its Hello, one redial as RLPx within the same dial(); the next dial goes RLPx at once', async () => {
    const { rlpx, id, connections } = devp2pNode()
    const port = await freePort()
    const listening = waitForEvent(rlpx.events as never, 'listening', { timeoutMs: EVENT_TIMEOUT_MS })
    rlpx.listen(port, '127.0.0.1')
    await listening
    const a = ethNode([ETH68])
    const conn = await a.node.transport.dial({ host: '127.0.0.1', port }, { remoteId: id })
    cleanups.push(() => closeConnection(conn))
    expect(conn.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(a.node.upgrader.speaksRlpx(id)).toBe(true)
    expect(connections()).toBe(2)
    const stream = await conn.newStream(ETH68)
    expect(stream.protocol).toBe(ETH68)
    await closeConnection(conn)
    const second = await a.node.transport.dial({ host: '127.0.0.1', port }, { remoteId: id })
    cleanups.push(() => closeConnection(second))
    expect(second.multiplexer).toBe(RLPX_MULTIPLEXER)
    expect(connections()).toBe(3)
  })

  it('one dialing a listener with no RLPx capability registered is refused with USELESS_PEER, the report naming it', async () => {
    const { rlpx, id } = devp2pNode()
    const b = makeNode()
    const l = await listen(b)
    cleanups.push(() => l.close())
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    rlpx.connect({ id: b.id, address: '127.0.0.1', tcpPort: l.address().port }).catch(() => {})
    const [err] = await failed
    expect(err.cause).toBeInstanceOf(RlpxHandshakeFailedError)
    const cause = (err.cause as RlpxHandshakeFailedError).cause
    expect(cause).toBeInstanceOf(RlpxNoSharedCapabilityError)
    expect(cause.reason).toBe(DisconnectReason.USELESS_PEER)
    // The ECIES handshake authenticated the dialer before its Hello arrived: the report names it.
    expect(Buffer.from(err.remoteId!).equals(Buffer.from(id))).toBe(true)
  })
})
