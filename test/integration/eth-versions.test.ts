/**
 * The eth versions end to end, on both paths (the P2P stack's `/eth/N/1.0.0`
 * streams and the legacy RLPx path's devp2p capabilities): two clients agree
 * on eth/70 by default and fetch a 64-block chain; mixed versions agree on the
 * highest shared one; no shared version is one clear PEER_ERROR and a ban,
 * not a redial loop; the head moving is announced with BlockRangeUpdate to
 * eth/69+ peers.
 */
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net'

import { ETH, Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { bytesToHex, utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { type EthereumClient, Event, type Peer } from '../../src/client'
import { verifyBody, verifyReceipts } from '../../src/client/blockchain/verify'
import { NoSharedVersionError } from '../../src/client/net/protocol/errors'
import { hasBlockRange } from '../../src/client/net/protocol/ethstatus'
import { formatEnode } from '../../src/client/net/server/enode'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { listenOn, stackNode } from '../reliability/stack-fixture'
import { type NodeOptions, chainWith, enodeId, nextPeer, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, collect } from '../client/helpers/waits'

const BLOCKS = 64
const BATCH = 16

let source: TestChain
const clients: EthereumClient[] = []
const cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 3, seed: 'eth-versions' })
}, 120_000)

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

async function node(opts: NodeOptions): Promise<{ client: EthereumClient; url: string; id: string }> {
  const n = await startNode({ discV4: false, ...opts })
  clients.push(n.client)
  return { ...n, id: enodeId(n.url) }
}

/** A serving node with the first `blocks` blocks, and a client that dials it; resolves with both ends of the session. */
async function pair(useP2PServer: boolean, opts: { blocks?: number; server?: NodeOptions; client?: NodeOptions } = {}) {
  const common = testCommon()
  const n = opts.blocks ?? BLOCKS
  const a = await node({ common, useP2PServer, chain: await chainWith(common, source.blocks.slice(0, n), source.receipts.slice(0, n)), ...opts.server })
  const atA = new Promise<Peer>((resolve) => a.client.config.events.once(Event.PEER_CONNECTED, resolve))
  const b = await node({ common, useP2PServer, bootnodes: [a.url], ...opts.client })
  const toA = await nextPeer(b.client, a.id)
  return { a, b, toA, toB: await atA }
}

async function inBatches<T>(hashes: Uint8Array[], fetch: (hashes: Uint8Array[]) => Promise<T[]>): Promise<T[]> {
  const batches: Promise<T[]>[] = []
  for (let i = 0; i < hashes.length; i += BATCH) batches.push(fetch(hashes.slice(i, i + BATCH)))
  return (await Promise.all(batches)).flat()
}

describe.each([
  ['P2P stack', true],
  ['legacy RLPx path', false],
] as const)('eth versions on the %s', (_path, useP2PServer) => {
  it('two clients negotiate eth/70 and fetch headers, bodies and receipts of a 64-block chain, checked against the roots', async () => {
    const { toA, toB } = await pair(useP2PServer)
    expect([toA.eth?.version, toB.eth?.version]).toEqual([70, 70])
    const status = toA.eth!.status
    expect(hasBlockRange(status) && status.latestBlock).toBe(BigInt(BLOCKS))
    const eth = toA.eth!
    const headers = (await Promise.all([0, 16, 32, 48].map((from) => eth.getBlockHeaders({ block: BigInt(from + 1), max: BATCH })))).flat()
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(source.blocks.map((b) => bytesToHex(b.hash())))
    const hashes = headers.map((h) => h.hash())
    const bodies = await inBatches(hashes, (hs) => eth.getBlockBodies({ hashes: hs }))
    bodies.forEach((body, i) => verifyBody(headers[i]!, body))
    const receipts = await inBatches(hashes, (hs) => eth.getReceipts({ hashes: hs, headers: headers.filter((h) => hs.includes(h.hash())) }))
    expect(receipts).toHaveLength(BLOCKS)
    receipts.forEach((list, i) => verifyReceipts(headers[i]!, list))
    expect(receipts.map((l) => l.map(bytesToHex))).toEqual(source.receipts.map((l) => l.map(bytesToHex)))
  })

  it.each([
    [[68], 68],
    [[69], 69],
    [[69, 67], 69],
    [[68, 66], 68],
  ] as const)('70..66 against a client offering %j: both agree on eth/%i and serve receipts', async (theirs, agreed) => {
    const { toA, toB } = await pair(useP2PServer, { blocks: 4, client: { ethVersions: [...theirs] } })
    expect([toA.eth?.version, toB.eth?.version]).toEqual([agreed, agreed])
    const headers = await toA.eth!.getBlockHeaders({ block: 1n, max: 4 })
    const receipts = await toA.eth!.getReceipts({ hashes: headers.map((h) => h.hash()), headers })
    expect(receipts.map((l) => l.map(bytesToHex))).toEqual(source.receipts.slice(0, 4).map((l) => l.map(bytesToHex)))
  })

  it('no shared version (69 against 68): one PEER_ERROR NoSharedVersionError at the dialer, the remote banned and not dialed again', async () => {
    const a = await node({ useP2PServer, ethVersions: [68] })
    const errors = collect<[Error, Peer]>(a.client.config.events, Event.PEER_ERROR)
    cleanups.push(errors.stop)
    const b = await node({
      useP2PServer,
      ethVersions: [69],
      bootnodes: [a.url],
      beforeStart: (client) => {
        const reported = client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })
        cleanups.push(() => void reported.catch(() => undefined))
        dialerError = reported
      },
    })
    const [err, peer] = await dialerError!
    expect(err).toBeInstanceOf(NoSharedVersionError)
    expect(peer.id).toBe(a.id)
    const theirs = useP2PServer ? 'none of ours (all refused)' : '68'
    expect(err.message).toBe(`no shared eth version: ours 69, theirs ${theirs}`)
    const server = b.client.config.server
    expect(server.isBanned(a.id)).toBe(true)
    // Bootstrapping again offers A once more: a banned node is not dialed.
    const attempts = server.dialAttempts
    await server.bootstrap()
    expect(server.dialAttempts).toBe(attempts)
    expect(b.client.service.pool.size).toBe(0)
    expect(a.client.service.pool.size).toBe(0)
    // A reports B only if B's Hello reached it: on RLPx B may disconnect before sending one (it read
    // A's Hello first), on the P2P stack A only sees B leave. Whatever A reported says the same.
    for (const [e] of errors.items) expect(e.message).toBe(`no shared eth version: ours 68, theirs ${useP2PServer ? 'none of ours (all refused)' : '69'}`)
  })

  it('BlockRangeUpdate: every head move is announced to eth/69+ peers (at most once per interval), never to eth/68 ones', async () => {
    const { a, b, toA } = await pair(useP2PServer, { blocks: 16 })
    const common = testCommon()
    const c = await node({ common, useP2PServer, bootnodes: [a.url], ethVersions: [68] })
    const aHasC = a.client.config.events.waitFor(Event.POOL_PEER_ADDED, { timeoutMs: WAIT_MS, filter: (p) => p.id === c.id })
    const cToA = await nextPeer(c.client, a.id)
    // A announces to the peers in its pool: wait until C is one of them.
    if (!a.client.service.pool.contains(c.id)) await aHasC
    else aHasC.catch(() => undefined)
    expect([toA.eth?.version, cToA.eth?.version]).toEqual([70, 68])
    const atC = collect<[{ name: string; data: unknown }, string, Peer]>(c.client.config.events, Event.PROTOCOL_MESSAGE)
    const cErrors = collect<[Error]>(c.client.config.events, Event.PROTOCOL_ERROR)
    cleanups.push(atC.stop, cErrors.stop)
    const rangeAt = (n: bigint) =>
      b.client.config.events.waitFor(Event.PROTOCOL_MESSAGE, {
        timeoutMs: WAIT_MS,
        filter: (m) => m.name === 'BlockRangeUpdate' && (m.data as { latestBlock: bigint }).latestBlock === n,
      })
    // 16 -> 47: one head move, announced at once.
    const first = rangeAt(47n)
    await a.client.chain.putBlocks(source.blocks.slice(16, 47), source.receipts.slice(16, 47))
    const [msg, , from] = await first
    expect(from.id).toBe(a.id)
    expect(msg.data).toMatchObject({ earliestBlock: 0n, latestBlock: 47n })
    // 48, within the interval: announced when it ends.
    const second = rangeAt(48n)
    await a.client.chain.putBlocks(source.blocks.slice(47, 48), source.receipts.slice(47, 48))
    const [next] = await second
    expect(bytesToHex((next.data as { latestBlockHash: Uint8Array }).latestBlockHash)).toBe(bytesToHex(source.blocks[47]!.hash()))
    // B's pool tracks it as A's head.
    expect(toA.blockRange?.latestBlock).toBe(48n)
    expect(bytesToHex(toA.bestHash!)).toBe(bytesToHex(source.blocks[47]!.hash()))
    // The eth/68 peer heard of the same heads by NewBlockHashes, and never of a range.
    await cToA.eth!.getBlockHeaders({ block: 1n, max: 1 })
    expect(atC.items.some(([m]) => m.name === 'NewBlockHashes'), atC.items.map(([m]) => m.name).join()).toBe(true)
    expect(cErrors.items).toEqual([])
  })
})

let dialerError: Promise<[Error, Peer]> | undefined

describe('no shared eth version with a default node (ours 66-70)', () => {
  it('RLPx: a devp2p node offering only eth/65 is reported with its versions and banned', async () => {
    const common = testCommon()
    const key = secp.randomSecretKey()
    const id = getPublicKey(key, false).subarray(1)
    const tcp: Server = createServer((socket: Socket) => {
      socket.on('error', () => undefined)
      const peer = new Devp2pPeer({ socket, remoteId: null as unknown as Uint8Array, privateKey: key, id, timeout: 10_000, clientId: utf8ToBytes('eth65-only'), capabilities: [ETH.eth65], common, port: 0 })
      peer.events.on('error', () => undefined)
      cleanups.push(() => void socket.destroy())
    })
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())))
    const url = formatEnode(id, '127.0.0.1', (tcp.address() as AddressInfo).port, 0)
    const a = await node({ common, beforeStart: (client) => (dialerError = client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })), bootnodes: [url] })
    const [err, peer] = await dialerError!
    expect(err).toBeInstanceOf(NoSharedVersionError)
    expect(err.message).toBe('no shared eth version: ours 66-70, theirs 65')
    expect((err as NoSharedVersionError).theirs).toEqual([65])
    expect(peer.id).toBe(enodeId(url))
    expect(a.client.config.server.isBanned(enodeId(url))).toBe(true)
  })

  it('P2P stack: a node whose Registrar offers no eth stream is reported and banned', async () => {
    const raw = stackNode()
    const { listener } = await listenOn(raw)
    cleanups.push(() => listener.close())
    const url = formatEnode(raw.id, '127.0.0.1', listener.address().port, 0)
    const a = await node({ useP2PServer: true, beforeStart: (client) => (dialerError = client.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS })), bootnodes: [url] })
    const [err, peer] = await dialerError!
    expect(err).toBeInstanceOf(NoSharedVersionError)
    expect(err.message).toBe('no shared eth version: ours 66-70, theirs none of ours (all refused)')
    expect(peer.id).toBe(enodeId(url))
    expect(a.client.config.server.isBanned(enodeId(url))).toBe(true)
  })
})
