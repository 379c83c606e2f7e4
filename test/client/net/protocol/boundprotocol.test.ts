import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { BoundEthProtocol } from '../../../../src/client/net/protocol/boundethprotocol'
import {
  DuplicateStatusError,
  EthCodecError,
  InvalidResponseError,
  MessageBeforeStatusError,
  PeerDisconnectedError,
  RequestArgumentError,
  RequestTimeoutError,
  StatusMismatchError,
  StatusTimeoutError,
  UnexpectedResponseError,
} from '../../../../src/client/net/protocol/errors'
import {
  EthCode,
  type EthMessageName,
  type EthMessages,
  type EthStatus,
  MAX_HEADERS_PER_REQUEST,
  decodeEthPayload,
  encodeEthPayload,
  encodeStatus,
} from '../../../../src/client/net/protocol/ethmessages'
import { Event } from '../../../../src/client/types'
import { buildTestChain } from '../../../../src/client/testing/testchain'
import { filled, loadTestChain, plain } from './fixtures'
import { MemorySender, type Side, collect, makeSide, nextEvent, nextEvents, nextMessages, nextStatus } from './harness'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

const VERSION = 68

/** Binds `side` over a memory pair; the test drives the raw remote end. */
async function bindToRaw(side: Side, remoteStatus?: (ours: EthStatus) => EthStatus) {
  const [local, remote] = MemorySender.pair(VERSION)
  const ourStatus = nextStatus(remote)
  const bound = side.protocol.bind(side.peer, local)
  const ours = await ourStatus
  remote.sendStatus(remoteStatus ? remoteStatus(ours) : ours)
  const eth = await bound
  cleanups.push(() => eth.close())
  return { eth, local, remote }
}

function sendRaw<N extends EthMessageName>(remote: MemorySender, side: Side, name: N, data: EthMessages[N]): void {
  remote.sendMessage(EthCode[name], encodeEthPayload(name, data, { version: VERSION, common: side.config.common }))
}

function decodeRaw(side: Side, m: { code: number; payload: Uint8Array | unknown[] }) {
  return decodeEthPayload(m.code, m.payload as Uint8Array, { version: VERSION, common: side.config.common })
}

/** Answers requests arriving at `remote` from `side`'s chain, like a serving peer would. */
function serveFrom(side: Side, remote: MemorySender): void {
  const onMessage = async (m: { code: number; payload: Uint8Array | unknown[] }) => {
    const msg = decodeRaw(side, m)
    if (msg.name === 'GetBlockHeaders') {
      const { reqId, block, max, skip, reverse } = msg.data
      sendRaw(remote, side, 'BlockHeaders', { reqId, headers: await side.chain.getHeaders(block, max, skip, reverse) })
    } else if (msg.name === 'GetBlockBodies') {
      sendRaw(remote, side, 'BlockBodies', { reqId: msg.data.reqId, bodies: await side.chain.getBodies(msg.data.hashes) })
    } else if (msg.name === 'GetPooledTransactions') {
      const { chain } = await loadTestChain()
      const pool = chain.blocks.flatMap((b) => b.transactions)
      const txs = msg.data.hashes.flatMap((h) => pool.filter((t) => bytesToHex(t.hash()) === bytesToHex(h)))
      sendRaw(remote, side, 'PooledTransactions', { reqId: msg.data.reqId, txs })
    } else if (msg.name === 'GetReceipts') {
      sendRaw(remote, side, 'Receipts', { reqId: msg.data.reqId, receipts: await side.chain.getReceipts(msg.data.hashes) })
    }
  }
  remote.on('message', onMessage)
  cleanups.push(() => remote.off('message', onMessage))
}

describe('BoundEthProtocol handshake', () => {
  it('two sides exchange and validate Status, then fetch headers, bodies and receipts', async () => {
    const a = await makeSide({ blocks: 0 })
    const b = await makeSide()
    const [sa, sb] = MemorySender.pair(VERSION)
    const statusEvent = nextEvent(a.config.events, Event.PROTOCOL_STATUS)
    const [ea, eb] = await Promise.all([a.protocol.bind(a.peer, sa), b.protocol.bind(b.peer, sb)])
    cleanups.push(() => ea.close(), () => eb.close())
    expect(ea).toBeInstanceOf(BoundEthProtocol)
    expect(ea.version).toBe(VERSION)
    expect(plain(ea.status)).toEqual(plain(b.protocol.createStatus(VERSION)))
    expect(plain(eb.status)).toEqual(plain(a.protocol.createStatus(VERSION)))
    const [st, peer] = await statusEvent
    expect(plain(st)).toEqual(plain(ea.status))
    expect(peer).toBe(a.peer)

    // b serves from its chain through the client bus, as the service does.
    const onMessage = async (msg: { name: string; data: unknown }, _p: string, from: unknown) => {
      if (from !== b.peer || msg.name !== 'GetBlockHeaders') return
      const q = msg.data as EthMessages['GetBlockHeaders']
      eb.send('BlockHeaders', { reqId: q.reqId, headers: await b.chain.getHeaders(q.block, q.max, q.skip, q.reverse) })
    }
    b.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
    cleanups.push(() => b.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
    const headers = await ea.getBlockHeaders({ block: 1n, max: 10 })
    const { chain } = await loadTestChain()
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(chain.blocks.map((x) => bytesToHex(x.hash())))
    const byHash = await ea.getBlockHeaders({ block: chain.blocks[3].hash(), max: 2, reverse: true })
    expect(byHash.map((h) => h.number)).toEqual([4n, 3n])
  })

  it('resolves request helpers to decoded items', async () => {
    const side = await makeSide({ blocks: 0 })
    const server = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    serveFrom(server, remote)
    const { chain } = await loadTestChain()
    const hashes = chain.blocks.map((b) => b.hash())
    const bodies = await eth.getBlockBodies({ hashes })
    expect(plain(bodies)).toEqual(plain(chain.blocks.map((b) => b.raw().slice(1))))
    const receipts = await eth.getReceipts({ hashes })
    expect(plain(receipts)).toEqual(plain(chain.receipts))
    const wanted = [chain.blocks[0].transactions[0], chain.blocks[2].transactions[1]]
    const txs = await eth.getPooledTransactions({ hashes: wanted.map((t) => t.hash()) })
    expect(plain(txs)).toEqual(plain(wanted))
  })

  it.each([
    ['networkId', (s: EthStatus) => ({ ...s, networkId: s.networkId + 1n }), /Status networkId mismatch: remote network id 4661, ours 4660/],
    ['genesisHash', (s: EthStatus) => ({ ...s, genesisHash: filled(32, 0xee) }), /Status genesisHash mismatch: remote genesis 0xeeee/],
    ['forkId', (s: EthStatus) => ({ ...s, forkId: { hash: filled(4, 0x12), next: 0n } }), /Status forkId mismatch: fork id rejected \(local-incompatible-or-stale\)/],
    ['version', (s: EthStatus) => ({ ...s, version: 67 }), /Status version mismatch: remote announces eth\/67, session is eth\/68/],
  ] as const)('rejects a remote Status with another %s, naming it, and closes the session', async (field, tweak, pattern) => {
    const side = await makeSide()
    const [local, remote] = MemorySender.pair(VERSION)
    const ourStatus = nextStatus(remote)
    const remoteClosed = new Promise((resolve) => remote.once('close', resolve))
    const bound = side.protocol.bind(side.peer, local)
    remote.sendStatus(tweak(await ourStatus))
    const err = await bound.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StatusMismatchError)
    expect((err as StatusMismatchError).field).toBe(field)
    expect((err as StatusMismatchError).code).toBe('ERR_ETH_STATUS_MISMATCH')
    expect((err as Error).message).toMatch(pattern)
    expect(local.closed).toBe(true)
    await remoteClosed
  })

  it('rejects a message before Status', async () => {
    const side = await makeSide()
    const [local, remote] = MemorySender.pair(VERSION)
    const bound = side.protocol.bind(side.peer, local)
    await nextStatus(remote)
    sendRaw(remote, side, 'NewBlockHashes', { hashes: [] })
    await expect(bound).rejects.toBeInstanceOf(MessageBeforeStatusError)
    await expect(bound).rejects.toThrow(/NewBlockHashes before its Status/)
    expect(local.closed).toBe(true)
  })

  it('times out without a remote Status', async () => {
    const side = await makeSide({ statusTimeoutMs: 50 })
    const [local] = MemorySender.pair(VERSION)
    const err = await side.protocol.bind(side.peer, local).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StatusTimeoutError)
    expect((err as StatusTimeoutError).code).toBe('ERR_ETH_STATUS_TIMEOUT')
    expect(local.closed).toBe(true)
  })

  it('fails the handshake when the transport closes', async () => {
    const side = await makeSide()
    const [local, remote] = MemorySender.pair(VERSION)
    const bound = side.protocol.bind(side.peer, local)
    await nextStatus(remote)
    remote.close()
    await expect(bound).rejects.toBeInstanceOf(PeerDisconnectedError)
  })

  it('hands the session to the peer before a message right behind the remote Status is routed', async () => {
    const side = await makeSide()
    const [local] = MemorySender.pair(VERSION)
    const order: string[] = []
    const onMessage = (msg: { name: string }): void => void order.push(`bus ${msg.name} (peer.eth ${side.peer.eth === undefined ? 'unset' : 'set'})`)
    side.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
    cleanups.push(() => side.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
    const routed = nextEvent(side.config.events, Event.PROTOCOL_MESSAGE)
    const bound = side.peer.bindProtocol(side.protocol, local)
    // Status and a request reach the sender in one turn, before the handshake's promise settles.
    local.inject(EthCode.Status, RLP.encode(encodeStatus(side.protocol.createStatus(VERSION))))
    local.inject(EthCode.GetPooledTransactions, RLP.encode(encodeEthPayload('GetPooledTransactions', { reqId: 1n, hashes: [] }, { version: VERSION, common: side.config.common })))
    expect(side.peer.eth).toBeDefined()
    await bound
    cleanups.push(() => side.peer.eth?.close())
    await routed
    expect(order).toEqual(['bus GetPooledTransactions (peer.eth set)'])
  })

  it('reports a protocol error right behind the remote Status even when the session ends in the same turn', async () => {
    const side = await makeSide()
    const [local] = MemorySender.pair(VERSION)
    const reported = nextEvent(side.config.events, Event.PROTOCOL_ERROR)
    const bound = side.peer.bindProtocol(side.protocol, local)
    local.inject(EthCode.Status, RLP.encode(encodeStatus(side.protocol.createStatus(VERSION))))
    // What a transport does on a framing violation: report it, then end the session.
    local.injectError(new EthCodecError('garbage right behind Status'))
    local.remoteClosed()
    await bound
    expect(side.peer.eth?.closed).toBe(true)
    const [err, peer] = await reported
    expect(err).toBeInstanceOf(EthCodecError)
    expect(peer).toBe(side.peer)
  })

  it('reports a second Status as a protocol error and stays usable', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    const protocolError = nextEvent(side.config.events, Event.PROTOCOL_ERROR)
    remote.sendStatus(eth.status)
    const [err, peer] = await protocolError
    expect(err).toBeInstanceOf(DuplicateStatusError)
    expect((err as DuplicateStatusError).code).toBe('ERR_ETH_DUPLICATE_STATUS')
    expect(peer).toBe(side.peer)
    expect(eth.closed).toBe(false)
  })
})

describe('BoundEthProtocol requests', () => {
  it('matches out-of-order responses by reqId', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    const { chain } = await loadTestChain()
    const arrived = nextMessages(remote, 3)
    const results = [1n, 2n, 3n].map((n) => eth.getBlockHeaders({ block: n, max: 1 }))
    const requests = (await arrived).map((m) => decodeRaw(side, m))
    for (const req of [...requests].reverse()) {
      if (req.name !== 'GetBlockHeaders') throw new Error(`unexpected ${req.name}`)
      const n = Number(req.data.block)
      sendRaw(remote, side, 'BlockHeaders', { reqId: req.data.reqId, headers: [chain.blocks[n - 1].header] })
    }
    const headers = await Promise.all(results)
    expect(headers.map(([h]) => h.number)).toEqual([1n, 2n, 3n])
    expect(new Set(requests.map((r) => (r.data as { reqId: bigint }).reqId)).size).toBe(3)
    expect(eth.inFlight).toBe(0)
  })

  it('serves 32 concurrent requests answered in shuffled order', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    // Each request asks for its own block, so a reply handed to the wrong request cannot go unseen.
    const chain = await buildTestChain({ common: side.config.common, blocks: 32, txsPerBlock: 0, seed: 'h6-32' })
    const arrived = nextMessages(remote, 32)
    const results = Array.from({ length: 32 }, (_, i) => eth.getBlockHeaders({ block: BigInt(i + 1), max: 1 }))
    expect(eth.inFlight).toBe(32)
    const requests = (await arrived).map((m) => decodeRaw(side, m))
    const order = requests.map((_, i) => (i * 13) % 32) // a fixed permutation of 0..31
    for (const i of order) {
      const req = requests[i]
      if (req.name !== 'GetBlockHeaders') throw new Error(`unexpected ${req.name}`)
      sendRaw(remote, side, 'BlockHeaders', { reqId: req.data.reqId, headers: [chain.blocks[Number(req.data.block) - 1].header] })
    }
    const headers = await Promise.all(results)
    expect(headers.map(([h]) => h.number)).toEqual(Array.from({ length: 32 }, (_, i) => BigInt(i + 1)))
    expect(headers.map(([h]) => bytesToHex(h.hash()))).toEqual(chain.blocks.map((b) => bytesToHex(b.hash())))
  })

  it('times out a request with RequestTimeoutError; a late answer is dropped quietly, an unknown reqId is a protocol error', async () => {
    const side = await makeSide({ requestTimeoutMs: 50 })
    const { eth, remote } = await bindToRaw(side)
    const arrived = nextMessages(remote, 1)
    const err = await eth.getBlockHeaders({ block: 1n, max: 1 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(RequestTimeoutError)
    expect((err as RequestTimeoutError).code).toBe('ERR_ETH_REQUEST_TIMEOUT')
    expect(eth.inFlight).toBe(0)
    const [req] = (await arrived).map((m) => decodeRaw(side, m))
    const reqId = (req.data as { reqId: bigint }).reqId
    const errors = collect(side.config.events, Event.PROTOCOL_ERROR)
    cleanups.push(errors.stop)
    const protocolError = nextEvent(side.config.events, Event.PROTOCOL_ERROR)
    sendRaw(remote, side, 'BlockHeaders', { reqId, headers: [] }) // late: dropped
    sendRaw(remote, side, 'BlockHeaders', { reqId: reqId + 1000n, headers: [] }) // never asked
    const [unexpected] = await protocolError
    expect(unexpected).toBeInstanceOf(UnexpectedResponseError)
    expect(unexpected.message).toContain(`reqId ${reqId + 1000n}`)
    expect(errors.items).toHaveLength(1)
  })

  it('rejects every request in flight at once when the peer disconnects', async () => {
    const side = await makeSide() // 60 s request timeout: only the disconnect can settle these
    const { eth, remote } = await bindToRaw(side)
    const arrived = nextMessages(remote, 5)
    const results = Array.from({ length: 5 }, () => eth.getBlockHeaders({ block: 1n, max: 1 }).then(() => undefined, (e: unknown) => e))
    await arrived
    remote.close()
    const errors = await Promise.all(results)
    for (const e of errors) expect(e).toBeInstanceOf(PeerDisconnectedError)
    expect(eth.closed).toBe(true)
    expect(eth.inFlight).toBe(0)
    await expect(eth.getBlockHeaders({ block: 1n, max: 1 })).rejects.toBeInstanceOf(PeerDisconnectedError)
    expect(() => eth.send('NewBlockHashes', { hashes: [] })).toThrow(PeerDisconnectedError)
  })

  it('rejects in-flight requests at once on a local close', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    const remoteClosed = new Promise((resolve) => remote.once('close', resolve))
    const arrived = nextMessages(remote, 1)
    const pending = eth.getReceipts({ hashes: [filled(32, 1)] })
    await arrived // the remote consumes the request; 'close' is delivered after it
    eth.close()
    await expect(pending).rejects.toBeInstanceOf(PeerDisconnectedError)
    await remoteClosed
  })

  it('fails a request answered with the wrong message type or too many items', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    const { chain } = await loadTestChain()
    const arrived = nextMessages(remote, 2)
    const wrongType = eth.getBlockHeaders({ block: 1n, max: 1 }).then(() => undefined, (e: unknown) => e)
    const tooMany = eth.getBlockHeaders({ block: 1n, max: 1 }).then(() => undefined, (e: unknown) => e)
    const [r1, r2] = (await arrived).map((m) => decodeRaw(side, m).data as { reqId: bigint })
    const errors = nextEvents(side.config.events, Event.PROTOCOL_ERROR, 2)
    sendRaw(remote, side, 'BlockBodies', { reqId: r1.reqId, bodies: [] })
    sendRaw(remote, side, 'BlockHeaders', { reqId: r2.reqId, headers: [chain.blocks[0].header, chain.blocks[1].header] })
    expect(await wrongType).toBeInstanceOf(UnexpectedResponseError)
    expect(await tooMany).toBeInstanceOf(InvalidResponseError)
    expect((await errors).map(([e]) => (e as Error & { code: string }).code)).toEqual(['ERR_ETH_UNEXPECTED_RESPONSE', 'ERR_ETH_INVALID_RESPONSE'])
  })

  it('reports an undecodable message as PROTOCOL_ERROR with EthCodecError', async () => {
    const side = await makeSide()
    const { remote } = await bindToRaw(side)
    const protocolError = nextEvent(side.config.events, Event.PROTOCOL_ERROR)
    remote.sendMessage(EthCode.GetBlockBodies, [Uint8Array.of(1), [filled(31, 1)]])
    const [err] = await protocolError
    expect(err).toBeInstanceOf(EthCodecError)
    expect(err.message).toMatch(/GetBlockBodies: hashes\[0\]: expected 32 bytes/)
  })

  it('emits inbound requests and announcements on the client bus, decoded', async () => {
    const side = await makeSide()
    const { remote } = await bindToRaw(side)
    const message = nextEvent(side.config.events, Event.PROTOCOL_MESSAGE)
    const { chain } = await loadTestChain()
    sendRaw(remote, side, 'NewBlockHashes', { hashes: [[chain.blocks[0].hash(), 1n]] })
    const [msg, name, peer] = await message
    expect(msg.name).toBe('NewBlockHashes')
    expect(plain(msg.data)).toEqual(plain({ hashes: [[chain.blocks[0].hash(), 1n]] }))
    expect(name).toBe('eth')
    expect(peer).toBe(side.peer)
  })

  it('refuses requests beyond the named limits before sending', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    await expect(eth.getBlockHeaders({ block: 1n, max: MAX_HEADERS_PER_REQUEST + 1 })).rejects.toBeInstanceOf(RequestArgumentError)
    await expect(eth.getBlockBodies({ hashes: Array.from({ length: 1025 }, () => filled(32, 1)) })).rejects.toThrow(/hashes.length must be/)
    expect(eth.inFlight).toBe(0)
    // Nothing reached the remote: the next message it sees is the one sent now.
    const next = nextMessages(remote, 1)
    eth.send('NewBlockHashes', { hashes: [] })
    expect((await next)[0].code).toBe(EthCode.NewBlockHashes)
  })

  it('sends a response that carries the request reqId (round trip through bytes)', async () => {
    const side = await makeSide()
    const { eth, remote } = await bindToRaw(side)
    const next = nextMessages(remote, 1)
    eth.send('Receipts', { reqId: 99n, receipts: [] })
    const [m] = await next
    expect(RLP.decode(m.payload as Uint8Array)).toEqual([Uint8Array.of(99), []])
  })
})
