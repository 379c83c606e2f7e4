import { type AddressInfo, type Server, type Socket, createServer, connect as tcpConnect } from 'node:net'

import { ETH, Peer as Devp2pPeer, pk2id } from '@ethereumjs/devp2p'
import { secp256k1 } from 'ethereum-cryptography/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { verifyBody } from '../../../../src/client/blockchain/verify'
import type { Peer } from '../../../../src/client/net/peer/peer'
import { PeerDisconnectedError, StatusMismatchError } from '../../../../src/client/net/protocol/errors'
import { EthCode, type EthMessage, type EthMessages, encodeEthPayload, hasBlockRange, statusHead } from '../../../../src/client/net/protocol/ethmessages'
import { RlpxSender } from '../../../../src/client/net/protocol/rlpxsender'
import { RlpxWireSender, rlpxEthSender } from '../../../../src/client/net/protocol/rlpxwire'
import { FullEthereumService } from '../../../../src/client/service/fullethereumservice'
import { Event, type ProtocolMessage } from '../../../../src/client/types'
import { Common } from '../../../../src/chain-config'
import { loadTestChain, testCommon } from './fixtures'
import { type Side, makeSide } from './harness'

import type { Common as EthjsCommon } from '@ethereumjs/common'
import type { BoundEthProtocol } from '../../../../src/client/net/protocol/boundethprotocol'

/**
 * EthProtocol over real devp2p RLPx: two @ethereumjs/devp2p sessions (ECIES,
 * Hello, ETH capability) on a loopback TCP connection, each bound through an
 * RlpxSender. The test owns the sockets so it can close them at once (devp2p's
 * own disconnect ends sockets from a 2 s timer).
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Endpoint {
  side: Side
  key: Uint8Array
  devp2p?: Devp2pPeer
  socket?: Socket
}

function endpoint(side: Side): Endpoint {
  return { side, key: secp256k1.utils.randomPrivateKey() }
}

function devp2pPeer(ep: Endpoint, socket: Socket, common: EthjsCommon, remoteId: Uint8Array | null): Devp2pPeer {
  const id = pk2id(secp256k1.getPublicKey(ep.key, false))
  const peer = new Devp2pPeer({
    socket,
    remoteId: remoteId as Uint8Array,
    privateKey: ep.key,
    id,
    timeout: 10_000,
    clientId: utf8ToBytes('h6-test'),
    capabilities: ep.side.protocol.capabilities,
    common,
    port: 0,
  })
  ep.devp2p = peer
  ep.socket = socket
  return peer
}

function helloDone(peer: Devp2pPeer): Promise<void> {
  return new Promise((resolve, reject) => {
    peer.events.once('connect', () => resolve())
    peer.events.once('error', reject)
  })
}

/** Connects two devp2p sessions over 127.0.0.1 (ephemeral port) and waits for Hello on both. */
async function rlpxPair(a: Endpoint, b: Endpoint, commonA: EthjsCommon, commonB: EthjsCommon): Promise<void> {
  const server: Server = createServer()
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as AddressInfo).port
  const dialed = tcpConnect(port, '127.0.0.1')
  cleanups.push(() => destroy(dialed))
  await new Promise<void>((resolve, reject) => dialed.once('connect', resolve).once('error', reject))
  const inbound = await accepted
  cleanups.push(() => destroy(inbound))
  const pa = devp2pPeer(a, inbound, commonA, null)
  const pb = devp2pPeer(b, dialed, commonB, pk2id(secp256k1.getPublicKey(a.key, false)))
  await Promise.all([helloDone(pa), helloDone(pb)])
}

function destroy(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve()
  return new Promise((resolve) => {
    socket.once('close', () => resolve())
    socket.destroy()
  })
}

function ethOf(peer: Devp2pPeer): ETH {
  const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)
  if (eth === undefined) throw new Error('no shared eth capability')
  return eth
}

/** Fails the test at cleanup if `side` reported any protocol error (e.g. a spurious second Status). */
function expectNoProtocolErrors(side: Side): void {
  const errors: Error[] = []
  const listener = (err: Error) => {
    errors.push(err)
  }
  side.config.events.on(Event.PROTOCOL_ERROR, listener)
  cleanups.push(() => {
    side.config.events.off(Event.PROTOCOL_ERROR, listener)
    expect(errors.map((e) => e.message)).toEqual([])
  })
}

function bind(ep: Endpoint): Promise<BoundEthProtocol> {
  const sender = rlpxEthSender(ep.devp2p!, { disconnect: () => ep.socket?.destroy(), maxMessageSize: ep.side.config.maxMessageSize })
  if (sender === undefined) throw new Error('no shared eth capability')
  return ep.side.protocol.bind(ep.side.peer, sender)
}

/** Serves GetBlockHeaders from `side`'s chain through the client bus, as the service does. */
function serveHeaders(side: Side, eth: () => BoundEthProtocol): void {
  const listener = async (msg: { name: string; data: unknown }) => {
    if (msg.name !== 'GetBlockHeaders') return
    const q = msg.data as EthMessages['GetBlockHeaders']
    eth().send('BlockHeaders', { reqId: q.reqId, headers: await side.chain.getHeaders(q.block, q.max, q.skip, q.reverse) })
  }
  side.config.events.on(Event.PROTOCOL_MESSAGE, listener)
  cleanups.push(() => {
    side.config.events.off(Event.PROTOCOL_MESSAGE, listener)
  })
}

/** The eth/66..68 path: devp2p's own ETH capability. */
const ETH68_ONLY = [68]

describe('EthProtocol over devp2p RLPx (devp2p ETH, eth/68)', () => {
  it('negotiates eth/68, exchanges Status and completes a GetBlockHeaders round trip', async () => {
    const server = endpoint(await makeSide({ config: { ethVersions: ETH68_ONLY } }))
    const client = endpoint(await makeSide({ blocks: 0, config: { ethVersions: ETH68_ONLY } }))
    const common = server.side.config.common
    await rlpxPair(server, client, common, common)
    expectNoProtocolErrors(server.side)
    expectNoProtocolErrors(client.side)
    const [es, ec] = await Promise.all([bind(server), bind(client)])
    cleanups.push(() => es.close(), () => ec.close())
    expect(ec.version).toBe(68)
    expect(bytesToHex(statusHead(ec.status).hash)).toBe(bytesToHex(server.side.chain.headers.latest.hash()))
    expect(bytesToHex(es.status.genesisHash)).toBe(bytesToHex(client.side.chain.genesis.hash()))
    // devp2p computed the fork id it sent from the RLPx Common; ours must agree with it.
    expect(ec.status.forkId).toEqual(client.side.protocol.createStatus(68).forkId)

    serveHeaders(server.side, () => es)
    const { chain } = await loadTestChain()
    const headers = await ec.getBlockHeaders({ block: 1n, max: 4 })
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(chain.blocks.map((b) => bytesToHex(b.hash())))
    const reversed = await ec.getBlockHeaders({ block: chain.blocks[3].hash(), max: 3, skip: 1, reverse: true })
    expect(reversed.map((h) => h.number)).toEqual([4n, 2n, 0n])
  })

  it('fails a request in flight at once when the remote drops the connection', async () => {
    const server = endpoint(await makeSide({ config: { ethVersions: ETH68_ONLY } }))
    const client = endpoint(await makeSide({ blocks: 0, config: { ethVersions: ETH68_ONLY } }))
    const common = server.side.config.common
    await rlpxPair(server, client, common, common)
    const [es, ec] = await Promise.all([bind(server), bind(client)])
    cleanups.push(() => es.close(), () => ec.close())
    // The server receives the request but never answers; the request timeout is 60 s.
    const received = new Promise((resolve) => server.side.config.events.once(Event.PROTOCOL_MESSAGE, resolve))
    const pending = ec.getBlockHeaders({ block: 1n, max: 1 }).then(() => undefined, (e: unknown) => e)
    await received
    server.socket!.destroy()
    const err = await pending
    expect(err).toBeInstanceOf(PeerDisconnectedError)
    expect(ec.closed).toBe(true)
  })

  it('keeps wire order although devp2p holds the remote Status until ours is sent', async () => {
    const server = endpoint(await makeSide({ config: { ethVersions: ETH68_ONLY } }))
    const client = endpoint(await makeSide({ blocks: 0, config: { ethVersions: ETH68_ONLY } }))
    const common = server.side.config.common
    await rlpxPair(server, client, common, common)
    expectNoProtocolErrors(client.side)
    const clientEth = ethOf(client.devp2p!)
    const sender = new RlpxSender(clientEth, { peer: client.devp2p, disconnect: () => client.socket?.destroy() })
    // The server speaks first: Status, then an announcement, before the client sent its Status.
    const announced = new Promise((resolve) => clientEth.events.once('message', resolve))
    const serverEth = ethOf(server.devp2p!)
    const st = server.side.protocol.createStatus(68)
    serverEth.sendStatus({ td: new Uint8Array(0), bestHash: st.bestHash, genesisHash: st.genesisHash })
    const { chain } = await loadTestChain()
    serverEth.sendMessage(EthCode.NewBlockHashes, encodeEthPayload('NewBlockHashes', { hashes: [[chain.blocks[0].hash(), 1n]] }, { version: 68, common }))
    await announced // devp2p passed the announcement on; the remote Status is still held inside devp2p
    const message = new Promise<unknown[]>((resolve) => client.side.config.events.once(Event.PROTOCOL_MESSAGE, (...args) => resolve(args)))
    const eth = await client.side.protocol.bind(client.side.peer, sender)
    cleanups.push(() => eth.close())
    const [msg, , peer] = await message
    expect((msg as { name: string }).name).toBe('NewBlockHashes')
    expect(peer).toBe(client.side.peer)
  })

  it.each([
    ['network', () => testCommon(4661), /NetworkId mismatch: 0x1234 \/ 0x1235|NetworkId mismatch: 0x1235 \/ 0x1234/],
    ['genesis', () => Common.custom({ chainId: 4660, name: 'other-genesis', gasLimit: 29_000_000n }), /Genesis block mismatch/],
  ] as const)('refuses a peer on another %s with a reason that says so', async (_what, makeCommon, pattern) => {
    const server = endpoint(await makeSide({ config: { ethVersions: ETH68_ONLY } }))
    const otherCommon = makeCommon()
    const client = endpoint(await makeSide({ common: otherCommon, blocks: 0, config: { ethVersions: ETH68_ONLY } }))
    await rlpxPair(server, client, server.side.config.common, otherCommon)
    const results = await Promise.allSettled([bind(server), bind(client)])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const reason = (r as PromiseRejectedResult).reason as Error & { code: string }
      // devp2p checks network id and genesis itself before handing the Status on (in
      // sendStatus if the remote's came first, else when it arrives).
      expect(reason.message).toMatch(pattern)
      expect(reason.code).toMatch(/^ERR_ETH_(TRANSPORT|HANDSHAKE)$/)
    }
  })
})

/** Binds `ep` through its TestPeer (so `peer.eth` is set) and answers its requests with a FullEthereumService. */
async function bindServed(ep: Endpoint): Promise<BoundEthProtocol> {
  const sender = rlpxEthSender(ep.devp2p!, { disconnect: () => ep.socket?.destroy(), maxMessageSize: ep.side.config.maxMessageSize })
  if (sender === undefined) throw new Error('no shared eth capability')
  const service = new FullEthereumService({ config: ep.side.config, chain: ep.side.chain })
  const serve = (msg: ProtocolMessage, _name: string, peer: Peer): void => void service.handle(msg as EthMessage, peer)
  ep.side.config.events.on(Event.PROTOCOL_MESSAGE, serve)
  cleanups.push(() => void ep.side.config.events.off(Event.PROTOCOL_MESSAGE, serve))
  await ep.side.peer.bindProtocol(ep.side.protocol, sender)
  return ep.side.peer.eth!
}

async function servedPair(serverVersions?: number[], clientVersions?: number[]): Promise<{ server: Endpoint; client: Endpoint; es: BoundEthProtocol; ec: BoundEthProtocol }> {
  const server = endpoint(await makeSide({ config: { ethVersions: serverVersions } }))
  const client = endpoint(await makeSide({ blocks: 0, config: { ethVersions: clientVersions } }))
  await rlpxPair(server, client, server.side.config.common, client.side.config.common)
  expectNoProtocolErrors(server.side)
  expectNoProtocolErrors(client.side)
  const [es, ec] = await Promise.all([bindServed(server), bindServed(client)])
  cleanups.push(() => es.close(), () => ec.close())
  return { server, client, es, ec }
}

describe('EthProtocol over devp2p RLPx (our own capability, eth/69+)', () => {
  it('negotiates eth/70 by default, exchanges the block-range Status and fetches headers, bodies and receipts checked against the roots', async () => {
    const { server, client, es, ec } = await servedPair()
    expect([ec.version, es.version]).toEqual([70, 70])
    expect(ec.sender).toBeInstanceOf(RlpxWireSender)
    expect(client.devp2p!.getProtocols().some((p) => p instanceof ETH)).toBe(false)
    const { chain } = await loadTestChain()
    const status = ec.status
    expect(hasBlockRange(status) && [status.earliestBlock, status.latestBlock]).toEqual([0n, BigInt(chain.blocks.length)])
    expect(bytesToHex(statusHead(status).hash)).toBe(bytesToHex(server.side.chain.headers.latest.hash()))
    expect(ec.status.forkId).toEqual(client.side.protocol.createStatus(70).forkId)

    const headers = await ec.getBlockHeaders({ block: 1n, max: chain.blocks.length })
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(chain.blocks.map((b) => bytesToHex(b.hash())))
    const hashes = headers.map((h) => h.hash())
    const bodies = await ec.getBlockBodies({ hashes })
    bodies.forEach((body, i) => expect(() => verifyBody(headers[i]!, body)).not.toThrow())
    const receipts = await ec.getReceipts({ hashes, headers })
    expect(receipts.map((r) => r.map(bytesToHex))).toEqual(chain.receipts.map((r) => r.map(bytesToHex)))
  })

  it.each([
    [[68], 68, RlpxSender],
    [[69], 69, RlpxWireSender],
    [[70, 68], 70, RlpxWireSender],
    [[67, 66], 67, RlpxSender],
  ] as const)('70..66 against a peer offering %j agree on eth/%i', async (theirs, agreed, senderClass) => {
    const { ec, es } = await servedPair(undefined, [...theirs])
    expect([ec.version, es.version]).toEqual([agreed, agreed])
    expect(ec.sender).toBeInstanceOf(senderClass)
    const { chain } = await loadTestChain()
    const headers = await ec.getBlockHeaders({ block: 1n, max: 2 })
    const receipts = await ec.getReceipts({ hashes: headers.map((h) => h.hash()), headers })
    expect(receipts.map((r) => r.map(bytesToHex))).toEqual(chain.receipts.slice(0, 2).map((r) => r.map(bytesToHex)))
  })

  it('refuses a peer on another network with StatusMismatchError: on eth/69+ our Status check, not devp2p, decides', async () => {
    const server = endpoint(await makeSide())
    const otherCommon = testCommon(4661)
    const client = endpoint(await makeSide({ common: otherCommon, blocks: 0 }))
    await rlpxPair(server, client, server.side.config.common, otherCommon)
    const results = await Promise.allSettled([bind(server), bind(client)])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const reason = (r as PromiseRejectedResult).reason as Error
      expect(reason).toBeInstanceOf(StatusMismatchError)
      expect((reason as StatusMismatchError).field).toBe('networkId')
    }
  })
})
