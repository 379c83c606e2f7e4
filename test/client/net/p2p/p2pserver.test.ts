import { type AddressInfo, type Socket, connect, createServer } from 'node:net'

import { bytesToHex } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { P2PPeer } from '../../../../src/client/net/peer/p2ppeer'
import { PeerDisconnectedError, StatusMismatchError } from '../../../../src/client/net/protocol/errors'
import { Event } from '../../../../src/client/types'
import { expectResourcesBackTo } from '../../../p2p/stack/helpers'
import { enodeId, enodeTcpPort } from '../../helpers/nodes'
import { nextEvent } from '../../helpers/waits'
import { makeChain, makeForeignChain, sourceChain } from './helpers'
import { type P2PNode, count, settled, startP2PNode, waitEvent } from './nodes'

import type { Peer } from '../../../../src/client/net/peer/peer'
import type { ConnectionInfo, ProtocolMessage, StreamInfo } from '../../../../src/client/types'
import { DisconnectReason, type InboundRefusedError, ProtocolNotSupportedError, StreamHandlerError, StreamNegotiationError } from '../../../../src/p2p'

const BLOCKS = 12
const nodes: P2PNode[] = []

async function node(opts: Parameters<typeof startP2PNode>[0] = {}): Promise<P2PNode> {
  const n = await startP2PNode(opts)
  nodes.push(n)
  return n
}

const stops: (() => void)[] = []

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

describe('P2PPeer stream failures', () => {
  it('puts every failed inbound stream on the bus (STREAM_ERROR), so failures can be counted', async () => {
    const a = await node({ chain: await makeChain(0) })
    a.server.registrar.handle('/h8/throws/1.0.0', () => {
      throw new Error('handler boom')
    })
    const b = await node({ bootnodes: [a.url] })
    const [peer] = await waitEvent(b, Event.PEER_CONNECTED)
    const p2p = peer as P2PPeer

    const handlerFailed = waitEvent(a, Event.STREAM_ERROR, (err) => err instanceof StreamHandlerError)
    // The reset may overtake the end of the negotiation; either way the stream is gone.
    void p2p.openStream('/h8/throws/1.0.0').then((s) => s.on('error', () => {}), () => {})
    const [handlerErr, handlerStream, atPeer] = await handlerFailed
    expect((handlerErr.cause as Error).message).toBe('handler boom')
    expect(handlerStream).toMatchObject({ protocol: '/h8/throws/1.0.0', direction: 'inbound' })
    expect(atPeer.id).toBe(enodeId(b.url))

    const negotiationFailed = waitEvent(a, Event.STREAM_ERROR, (err) => err instanceof StreamNegotiationError)
    await expect(p2p.openStream('/h8/missing/1.0.0')).rejects.toBeInstanceOf(ProtocolNotSupportedError)
    const [, refusedStream] = await negotiationFailed
    expect(refusedStream).toMatchObject({ protocol: '', direction: 'inbound' })

    expect(count(a, Event.STREAM_ERROR)).toBe(2)
    expect(count(b, Event.STREAM_ERROR)).toBe(0)
    // The eth session is untouched.
    expect(p2p.eth?.closed).toBe(false)
  })
})

describe('P2PServer', () => {
  it('connects a dialer to a listener, binds eth over one stream, and serves headers and bodies', async () => {
    const a = await node({ chain: await makeChain(BLOCKS) })
    const aConnected = waitEvent(a, Event.PEER_CONNECTED)
    const b = await node({ bootnodes: [a.url] })
    const [peerOfB] = await waitEvent(b, Event.PEER_CONNECTED)
    const [peerOfA] = await aConnected
    expect(peerOfB).toBeInstanceOf(P2PPeer)
    expect(peerOfB.id).toBe(enodeId(a.url))
    expect(peerOfA.id).toBe(enodeId(b.url))
    expect(peerOfB.inbound).toBe(false)
    expect(peerOfA.inbound).toBe(true)
    expect(peerOfB.transport).toBe('p2p')
    expect(peerOfB.eth?.version).toBe(70)

    const streams = b.events.filter((e) => e.event === Event.STREAM_OPENED).map((e) => e.args[0] as StreamInfo)
    expect(streams).toEqual([expect.objectContaining({ protocol: '/eth/70/1.0.0', direction: 'outbound' })])
    const conns = a.events.filter((e) => e.event === Event.CONNECTION_OPENED).map((e) => e.args[0] as ConnectionInfo)
    expect(conns).toEqual([expect.objectContaining({ peerId: enodeId(b.url), direction: 'inbound' })])
    expect((peerOfB as P2PPeer).getStreams()).toHaveLength(1)

    const src = await sourceChain(BLOCKS)
    const headers = await peerOfB.eth!.getBlockHeaders({ block: 1n, max: BLOCKS })
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(src.blocks.map((blk) => bytesToHex(blk.hash())))
    const bodies = await peerOfB.eth!.getBlockBodies({ hashes: src.blocks.map((blk) => blk.hash()) })
    expect(bodies.map((body) => bytesToHex(Buffer.concat(body.flat(2) as Uint8Array[])))).toEqual(
      src.blocks.map((blk) => bytesToHex(Buffer.concat(blk.raw().slice(1).flat(2) as Uint8Array[]))),
    )
  })

  it('announces discport=0 without discovery and the bound UDP port with it, as RlpxServer does', async () => {
    const plain = await node({ chain: await makeChain(0) })
    expect(plain.url).toMatch(/^enode:\/\/[0-9a-f]{128}@127\.0\.0\.1:\d+\?discport=0$/)
    const discovering = await node({ chain: await makeChain(0), discV4: true })
    const discport = Number(new URL(discovering.url).searchParams.get('discport'))
    expect(discport).toBeGreaterThan(0)
  })

  it('reports PEER_DISCONNECTED on both sides when a peer disconnects', async () => {
    const a = await node({ chain: await makeChain(BLOCKS) })
    const b = await node({ bootnodes: [a.url] })
    const [peer] = await waitEvent(b, Event.PEER_CONNECTED)
    await settled(a, () => count(a, Event.PEER_CONNECTED) === 1)
    const aGone = waitEvent(a, Event.PEER_DISCONNECTED)
    const bGone = waitEvent(b, Event.PEER_DISCONNECTED)
    await peer.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'test done')
    const [, reasonB] = await bGone
    expect(reasonB).toBe('disconnect requested (0x00): test done')
    await aGone
    expect(b.server.peers).toHaveLength(0)
    expect(a.server.connections).toHaveLength(0)
    expect(count(b, Event.CONNECTION_CLOSED)).toBe(1)
    expect(count(b, Event.STREAM_CLOSED)).toBe(1)
  })

  it('fails a request in flight at once when the remote disconnects mid-request', async () => {
    const a = await node({ chain: await makeChain(BLOCKS) })
    const b = await node({ bootnodes: [a.url], requestTimeoutMs: 30_000 })
    const [peer] = await waitEvent(b, Event.PEER_CONNECTED)
    await settled(a, () => a.server.peers.length === 1)
    // a drops the connection when the request arrives, before its service can answer.
    const dropOnRequest = (msg: ProtocolMessage, _name: string, from: Peer): void => {
      if (msg.name === 'GetBlockHeaders') void from.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'going away mid-request')
    }
    a.config.events.on(Event.PROTOCOL_MESSAGE, dropOnRequest)
    stops.push(() => a.config.events.off(Event.PROTOCOL_MESSAGE, dropOnRequest))
    // With a 30 s request timeout, a RequestTimeoutError here would mean the close went unnoticed.
    const err = await peer.eth!.getBlockHeaders({ block: 1n, max: 4 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(PeerDisconnectedError)
    await waitEvent(b, Event.PEER_DISCONNECTED)
  })

  it('refuses a peer on another genesis with a reason naming it, and bans it', async () => {
    const a = await node({ chain: await makeChain(0) })
    const foreign = await makeForeignChain()
    const aError = waitEvent(a, Event.PEER_ERROR)
    const b = await node({ chain: foreign, bootnodes: [a.url] })
    const [errB] = await waitEvent(b, Event.PEER_ERROR)
    const [errA] = await aError
    for (const err of [errA, errB]) {
      expect(err).toBeInstanceOf(StatusMismatchError)
      expect((err as StatusMismatchError).field).toBe('genesisHash')
      expect(err.message).toMatch(/genesis/)
    }
    expect(a.server.isBanned(enodeId(b.url))).toBe(true)
    expect(count(a, Event.PEER_CONNECTED)).toBe(0)
    await settled(a, () => a.server.connections.length === 0)
  })

  it('refuses inbound connections beyond maxPeers', async () => {
    const a = await node({ chain: await makeChain(0), maxPeers: 1 })
    const b = await node({ bootnodes: [a.url] })
    await waitEvent(b, Event.PEER_CONNECTED)
    await settled(a, () => a.server.peers.length === 1)
    // c's socket is refused at accept, before any handshake work.
    const refused = nextEvent<[InboundRefusedError]>(a.server.listener!, 'refused')
    const c = await node({ bootnodes: [a.url] })
    const [err] = await refused
    expect(err.reason).toBe('gater')
    expect(a.server.stats.inboundRefused).toBe(1)
    expect(a.server.peers.map((p) => p.id)).toEqual([enodeId(b.url)])
    expect(count(c, Event.PEER_CONNECTED)).toBe(0)
  })

  it('lets an honest node in while sockets that never handshake fill every slot, and dials queued nodes once they go', async () => {
    const maxPeers = 2
    // dialBackoffMs 0: nodes injected below are dialed at once whichever id is lower.
    const a = await node({ chain: await makeChain(0), maxPeers, discV4: true, dialBackoffMs: 0 })
    const idle = await idleSockets(enodeTcpPort(a.url), maxPeers * 3)
    // Inbound: stalled handshakes take no slot at accept (the listener bounds them itself).
    const honest = await node({ bootnodes: [a.url] })
    await waitEvent(a, Event.PEER_CONNECTED, (p) => p.id === enodeId(honest.url))
    // The stalled sockets were accepted before the honest one, and are still pending.
    expect(a.server.listener!.pendingHandshakes).toBe(idle.length)
    // Outbound: with the remaining slot held by stalled handshakes a discovered node waits in the queue...
    const queued = await node()
    const attempts = a.server.dialAttempts
    const port = enodeTcpPort(queued.url)
    a.server.dpt!.events.emit('peer:new', { id: Buffer.from(enodeId(queued.url), 'hex'), address: '127.0.0.1', udpPort: port, tcpPort: port })
    expect(a.server.dialAttempts).toBe(attempts)
    // ...and is dialed as soon as they go away.
    const connected = waitEvent(a, Event.PEER_CONNECTED, (p) => p.id === enodeId(queued.url))
    for (const s of idle) s.destroy()
    await connected
    expect(a.server.dialAttempts).toBe(attempts + 1)
  })

  it('accepts an inbound node while its own dial in progress holds the only slot (dials do not refuse inbound sockets)', async () => {
    // Two nodes whose slots are all taken by dials in progress (a crowd discovered at once)
    // must not refuse each other at accept: the inbound socket may be the node being dialed.
    const a = await node({ chain: await makeChain(0), maxPeers: 1, discV4: true, dialBackoffMs: 0 })
    const hole = await blackhole()
    const holeId = getPublicKey(secp.randomSecretKey(), false).subarray(1)
    a.server.dpt!.events.emit('peer:new', { id: holeId, address: '127.0.0.1', udpPort: hole.port, tcpPort: hole.port })
    await hole.accepted
    expect(a.server.dialAttempts).toBe(1)
    const b = await node({ bootnodes: [a.url] })
    await waitEvent(a, Event.PEER_CONNECTED, (p) => p.id === enodeId(b.url))
    expect(a.server.stats.inboundRefused).toBe(0)
    expect(a.server.peers.map((p) => p.id)).toEqual([enodeId(b.url)])
    // The dial was in progress all along (it waits for an ack that never comes).
    expect(a.server.stats.dialFailures).toBe(0)
  })

  it('ban disconnects the peer and refuses it after the handshake when it dials again', async () => {
    const a = await node({ chain: await makeChain(0) })
    const b = await node({ bootnodes: [a.url] })
    await waitEvent(b, Event.PEER_CONNECTED)
    await settled(a, () => a.server.peers.length === 1)
    const gone = waitEvent(a, Event.PEER_DISCONNECTED)
    a.server.ban(enodeId(b.url), 60_000)
    const [, reason] = await gone
    expect(reason).toBe('useless peer (0x03): banned')
    await settled(b, () => b.server.connections.length === 0)
    // b dials again (no backoff for a connection that was up): refused once its id is known.
    const failed = nextEvent<[Error]>(a.server.listener!, 'error')
    await b.server.bootstrap()
    const [err] = await failed
    expect(describeChain(err)).toContain('ERR_UPGRADE_PEER_DENIED')
    expect(a.server.stats.inboundRefused).toBe(1)
    expect(count(a, Event.PEER_CONNECTED)).toBe(1)
  })

  it('never dials itself, comparing against the id derived from its public key', async () => {
    const a = await node({ chain: await makeChain(0), discV4: true, dialBackoffMs: 0 })
    const before = a.server.dialAttempts
    const self = a.config.nodeId
    a.server.dpt!.events.emit('peer:new', { id: self, address: '127.0.0.1', udpPort: 1, tcpPort: 1 })
    expect(a.server.dialAttempts).toBe(before)
    expect(count(a, Event.PEER_DISCOVERED)).toBe(0)
    // Another id does get dialed (the check is not simply "dial nothing").
    const b = await node()
    const bId = Buffer.from(enodeId(b.url), 'hex')
    const port = Number(b.url.split(':')[2].split('?')[0])
    const connected = waitEvent(a, Event.PEER_CONNECTED)
    a.server.dpt!.events.emit('peer:new', { id: bId, address: '127.0.0.1', udpPort: port, tcpPort: port })
    expect(a.server.dialAttempts).toBe(before + 1)
    await connected
  })

  it('start and stop are idempotent and stop leaves no socket, timer or listener behind', async () => {
    const baseline = process.getActiveResourcesInfo()
    const a = await startP2PNode({ chain: await makeChain(BLOCKS), discV4: true })
    const b = await startP2PNode({ discV4: true, bootnodes: [a.url] })
    await waitEvent(b, Event.PEER_CONNECTED)
    await a.server.start()
    expect(a.server.started).toBe(true)
    const listenersBefore = b.config.events.totalListenerCount()
    await Promise.all([b.stop(), b.server.stop()])
    await a.stop()
    await a.stop()
    expect(a.server.started).toBe(false)
    expect(a.server.listener).toBeNull()
    expect(a.server.dpt).toBeNull()
    expect(b.config.events.totalListenerCount()).toBeLessThan(listenersBefore)
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })
})

/** `n` sockets that connect and never send a byte (destroyed at cleanup). */
async function idleSockets(port: number, n: number): Promise<Socket[]> {
  const opened = Array.from({ length: n }, () => {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => undefined) // the node closing stalled sockets is what these provoke
    stops.push(() => void s.destroy())
    return s
  })
  await Promise.all(opened.map((s) => nextEvent(s, 'connect')))
  return opened
}

/** A TCP server that accepts and never answers: a dial to it stays in its handshake. */
async function blackhole(): Promise<{ port: number; accepted: Promise<void> }> {
  const sockets: Socket[] = []
  let onAccept!: () => void
  const accepted = new Promise<void>((resolve) => (onAccept = resolve))
  const server = createServer((s) => {
    s.on('error', () => undefined) // the dialer aborting at stop is expected
    sockets.push(s)
    onAccept()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stops.push(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, accepted }
}

/** Codes along an error's cause chain. */
function describeChain(err: unknown): string[] {
  const codes: string[] = []
  for (let e = err as { code?: string; cause?: unknown } | undefined; e !== undefined && codes.length < 8; e = e.cause as typeof e) {
    codes.push(String(e.code))
  }
  return codes
}

describe('P2PPeer streams', () => {
  it('opens, lists and closes extra streams on its connection, with stream events', async () => {
    const a = await node({ chain: await makeChain(0) })
    // An echo protocol on a's side.
    a.server.registrar.handle('/h8/echo/1.0.0', (stream) => {
      stream.pipe(stream)
    })
    const b = await node({ bootnodes: [a.url] })
    const [peer] = await waitEvent(b, Event.PEER_CONNECTED)
    const p2p = peer as P2PPeer
    const opened = waitEvent(b, Event.STREAM_OPENED, (s) => s.protocol === '/h8/echo/1.0.0')
    const stream = await p2p.openStream(['/h8/missing/1.0.0', '/h8/echo/1.0.0'])
    expect(stream.protocol).toBe('/h8/echo/1.0.0')
    const [info] = await opened
    expect(info.direction).toBe('outbound')
    expect(p2p.getStreams()).toContain(stream)
    expect(p2p.getStreams()).toHaveLength(2)
    const echoed = nextEvent<[Buffer]>(stream, 'data')
    stream.write('ping')
    expect((await echoed)[0].toString()).toBe('ping')
    const closed = waitEvent(b, Event.STREAM_CLOSED, (s) => s.streamId === info.streamId)
    expect(await p2p.closeStream(info.streamId)).toBe(true)
    await closed
    expect(p2p.getStreams()).not.toContain(stream)
    expect(await p2p.closeStream('outbound:999')).toBe(false)
    // The eth session is untouched.
    expect(p2p.eth?.closed).toBe(false)
  })
})
