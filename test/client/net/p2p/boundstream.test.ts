import { bytesToHex } from '@ethereumjs/util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { PeerDisconnectedError, StatusMismatchError } from '../../../../src/client/net/protocol/errors'
import { type EthMessages, statusHead } from '../../../../src/client/net/protocol/ethmessages'
import { StreamEthProtocol, ethStreamProtocolId } from '../../../../src/client/net/protocol/streamethprotocol'
import type { StreamSender } from '../../../../src/client/net/protocol/streamsender'
import { Event } from '../../../../src/client/types'
import { duplexPair, type MemoryDuplex } from '../../../utils/duplex-pair'
import { type Chain } from '../../../../src/client/blockchain/chain'
import type { Config } from '../../../../src/client/config'
import type { ProtocolMessage } from '../../../../src/client/types'
import type { Peer } from '../../../../src/client/net/peer/peer'
import { TestPeer } from '../../helpers/peers'
import { nextEvent } from '../../helpers/waits'
import { makeChain, makeConfig, makeForeignChain, sourceChain } from './helpers'

const BLOCKS = 40
const ID_A = 'aa'.repeat(64)
const ID_B = 'bb'.repeat(64)

interface Side {
  config: Config
  chain: Chain
  protocol: StreamEthProtocol
  sender: StreamSender
  /** The remote, as this side sees it. */
  peer: TestPeer
  stream: MemoryDuplex
}

let serverChain: Chain
let clientChain: Chain
const cleanups: Array<() => void | Promise<void>> = []

beforeAll(async () => {
  serverChain = await makeChain(BLOCKS)
  clientChain = await makeChain(0)
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function side(config: Config, chain: Chain, stream: MemoryDuplex, remoteId: string): Side {
  const protocol = new StreamEthProtocol({ config, chain })
  const sender = protocol.createSender(stream, ethStreamProtocolId(68))
  const peer = new TestPeer(config, remoteId, 'p2p')
  cleanups.push(() => sender.close(), () => void stream.destroy())
  return { config, chain, protocol, sender, peer, stream }
}

/** Answers GetBlockHeaders from the side's chain, optionally holding replies to send them in reverse. */
function serveHeaders(s: Side, opts: { holdUntil?: number } = {}): void {
  const held: Array<{ peer: Peer; data: EthMessages['BlockHeaders'] }> = []
  const onMessage = (msg: ProtocolMessage, _proto: string, peer: Peer): void => {
    if (msg.name !== 'GetBlockHeaders') return
    const req = msg.data as EthMessages['GetBlockHeaders']
    void s.chain.getHeaders(req.block, req.max, req.skip, req.reverse).then((headers) => {
      const reply = { reqId: req.reqId, headers }
      if (opts.holdUntil === undefined) return peer.eth?.send('BlockHeaders', reply)
      held.push({ peer, data: reply })
      if (held.length < opts.holdUntil) return
      for (const h of held.splice(0).reverse()) h.peer.eth?.send('BlockHeaders', h.data)
    })
  }
  s.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
  cleanups.push(() => void s.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
}

async function boundPair(): Promise<{ client: Side; server: Side }> {
  const [a, b] = duplexPair()
  const client = side(makeConfig({ requestTimeoutMs: 30_000 }), clientChain, a, ID_B)
  const server = side(makeConfig(), serverChain, b, ID_A)
  await Promise.all([client.peer.bindProtocol(client.protocol, client.sender), server.peer.bindProtocol(server.protocol, server.sender)])
  return { client, server }
}

describe('BoundEthProtocol over StreamSender', () => {
  it('runs the Status handshake and exposes each side the other Status', async () => {
    const { client, server } = await boundPair()
    expect(client.peer.eth?.version).toBe(68)
    expect(bytesToHex(statusHead(client.peer.eth!.status).hash)).toBe(bytesToHex(serverChain.headers.latest.hash()))
    expect(statusHead(server.peer.eth!.status).td).toBe(clientChain.headers.td)
  })

  it('resolves 32 concurrent GetBlockHeaders, answered in reverse order, each with its own headers', async () => {
    const { client, server } = await boundPair()
    serveHeaders(server, { holdUntil: 32 })
    const src = await sourceChain(BLOCKS)
    const eth = client.peer.eth!
    const requests = Array.from({ length: 32 }, (_, i) => ({ block: BigInt(1 + (i % BLOCKS)), max: 1 + (i % 8) }))
    const results = await Promise.all(requests.map((r) => eth.getBlockHeaders(r)))
    results.forEach((headers, i) => {
      const { block, max } = requests[i]
      const want = src.blocks.slice(Number(block) - 1, Number(block) - 1 + max).map((b) => bytesToHex(b.hash()))
      expect(headers.map((h) => bytesToHex(h.hash()))).toEqual(want)
    })
    expect(eth.inFlight).toBe(0)
  })

  it('fails a request at once with PeerDisconnectedError when the remote resets mid-request', async () => {
    const { client, server } = await boundPair()
    // The remote receives the request and drops the stream instead of answering.
    const onMessage = (msg: ProtocolMessage): void => {
      if (msg.name === 'GetBlockHeaders') server.stream.destroy()
    }
    server.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
    cleanups.push(() => void server.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
    // requestTimeoutMs is 30 s: a RequestTimeoutError here would mean the close was not noticed.
    const err = await client.peer.eth!.getBlockHeaders({ block: 1n, max: 4 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(PeerDisconnectedError)
    expect((err as PeerDisconnectedError).code).toBe('ERR_PEER_DISCONNECTED')
    expect(client.peer.eth!.closed).toBe(true)
  })

  it('fails every in-flight request when the remote ends the stream gracefully', async () => {
    const { client, server } = await boundPair()
    const eth = client.peer.eth!
    let seen = 0
    const onMessage = (msg: ProtocolMessage): void => {
      if (msg.name === 'GetBlockHeaders' && ++seen === 3) server.sender.close()
    }
    server.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
    cleanups.push(() => void server.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
    const settled = await Promise.allSettled([1n, 2n, 3n].map((block) => eth.getBlockHeaders({ block, max: 1 })))
    for (const s of settled) {
      expect(s.status).toBe('rejected')
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(PeerDisconnectedError)
    }
  })

  it('does not lose a reply sent synchronously from the request handler', async () => {
    const { client, server } = await boundPair()
    const src = await sourceChain(BLOCKS)
    const header = src.blocks[4].header
    const onMessage = (msg: ProtocolMessage, _p: string, peer: Peer): void => {
      if (msg.name !== 'GetBlockHeaders') return
      peer.eth!.send('BlockHeaders', { reqId: (msg.data as EthMessages['GetBlockHeaders']).reqId, headers: [header] })
    }
    server.config.events.on(Event.PROTOCOL_MESSAGE, onMessage)
    cleanups.push(() => void server.config.events.off(Event.PROTOCOL_MESSAGE, onMessage))
    const headers = await client.peer.eth!.getBlockHeaders({ block: 5n, max: 1 })
    expect(headers.map((h) => bytesToHex(h.hash()))).toEqual([bytesToHex(header.hash())])
  })

  it('does not lose a remote Status that arrived before the protocol was bound', async () => {
    const [a, b] = duplexPair()
    const client = side(makeConfig(), clientChain, a, ID_B)
    const server = side(makeConfig(), serverChain, b, ID_A)
    // The server sends its Status; the client binds only once those bytes were consumed by its sender.
    const statusArrived = nextEvent(client.stream, 'data')
    const serverBound = server.peer.bindProtocol(server.protocol, server.sender)
    await statusArrived
    expect(client.sender.stats.messagesIn).toBe(1)
    await client.peer.bindProtocol(client.protocol, client.sender)
    await serverBound
    const announced = new Promise<ProtocolMessage>((resolve) => client.config.events.once(Event.PROTOCOL_MESSAGE, resolve))
    const latest = serverChain.headers.latest
    server.peer.eth!.send('NewBlockHashes', { hashes: [[latest.hash(), latest.number]] })
    const msg = await announced
    expect(msg.name).toBe('NewBlockHashes')
    expect(bytesToHex(statusHead(client.peer.eth!.status).hash)).toBe(bytesToHex(latest.hash()))
  })

  it('refuses a remote on another genesis with a reason naming the genesis', async () => {
    const other = await makeForeignChain()
    const [a, b] = duplexPair()
    const client = side(makeConfig(), clientChain, a, ID_B)
    // Same network id as ours, different genesis: the check that must catch it is the genesis hash.
    const server = side(makeConfig({ common: other.common }), other, b, ID_A)
    const results = await Promise.allSettled([
      client.peer.bindProtocol(client.protocol, client.sender),
      server.peer.bindProtocol(server.protocol, server.sender),
    ])
    const [clientResult] = results
    expect(clientResult.status).toBe('rejected')
    const reason = (clientResult as PromiseRejectedResult).reason as StatusMismatchError
    expect(reason).toBeInstanceOf(StatusMismatchError)
    expect(reason.field).toBe('genesisHash')
    expect(reason.message).toMatch(/genesis/)
    expect(client.peer.eth).toBeUndefined()
  })
})
