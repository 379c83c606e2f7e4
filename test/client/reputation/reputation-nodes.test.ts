/**
 * Reputation between real nodes on 127.0.0.1: scores move with what a peer
 * really does over the wire, and the pool acts on them. The modular P2P
 * stack here; the scoring lives in the transport-independent BoundProtocol.
 */
import { afterEach, describe, expect, it } from 'vitest'

import { Event } from '../../../src/client'
import { EthCode, encodeEthPayload } from '../../../src/client/net/protocol/ethmessages'
import { RequestTimeoutError } from '../../../src/client/net/protocol/errors'
import { BAN_THRESHOLD, DISCONNECT_THRESHOLD, REPUTATION_WEIGHTS, ReputationEvent } from '../../../src/client/net/reputation'
import { enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { rawStreamSession } from '../helpers/raw-peers'
import { WAIT_MS } from '../helpers/waits'

import type { EthereumClient, Peer } from '../../../src/client'
import type { RawEthSession } from '../helpers/raw-peers'

const clients: EthereumClient[] = []
const sessions: RawEthSession[] = []

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()))
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

/** `a` asks, `b` serves; returns a's view of b. */
async function pair(aOpts: { requestTimeoutMs?: number } = {}): Promise<{ a: EthereumClient; b: EthereumClient; toB: Peer }> {
  const common = testCommon()
  const b = await startNode({ common, useP2PServer: true })
  clients.push(b.client)
  const a = await startNode({ common, useP2PServer: true, bootnodes: [b.url], ...aOpts })
  clients.push(a.client)
  return { a: a.client, b: b.client, toB: await nextPeer(a.client, enodeId(b.url)) }
}

describe('peer reputation between nodes', () => {
  it("raises a peer's score with every request it serves", async () => {
    const { toB } = await pair()
    expect(toB.score).toBe(0)
    for (let i = 0; i < 5; i++) await toB.eth!.getBlockHeaders({ block: 0n, max: 1 })
    expect(toB.score).toBeCloseTo(5 * REPUTATION_WEIGHTS.served, 3)
  })

  it('disconnects a peer at its 4th timeout in a row and refuses it while its score recovers', async () => {
    const { a, b, toB } = await pair({ requestTimeoutMs: 150 })
    // b stops answering: its service no longer handles requests.
    await b.service.stop()
    const gone = a.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS, filter: (p) => p.id === toB.id })
    for (let i = 1; i <= 4; i++) {
      await expect(toB.eth!.getBlockHeaders({ block: 0n, max: 1 })).rejects.toBeInstanceOf(RequestTimeoutError)
      expect(a.service.pool.contains(toB.id)).toBe(i < 4)
    }
    await gone
    expect(toB.score).toBeLessThanOrEqual(DISCONNECT_THRESHOLD)
    expect(a.server.isBanned(toB.id)).toBe(true)
  })

  it('counts requests that time out together as one stall', async () => {
    const { a, b, toB } = await pair({ requestTimeoutMs: 150 })
    await b.service.stop()
    const asked = [0, 1, 2].map(() => toB.eth!.getBlockHeaders({ block: 0n, max: 1 }))
    for (const p of asked) await expect(p).rejects.toBeInstanceOf(RequestTimeoutError)
    expect(toB.score).toBeCloseTo(REPUTATION_WEIGHTS[ReputationEvent.TIMEOUT], 1)
    expect(a.service.pool.contains(toB.id)).toBe(true)
  })

  it('bans a peer at once for an invalid reply (more headers than asked)', async () => {
    const common = testCommon()
    const node = await startNode({ common, useP2PServer: true })
    clients.push(node.client)
    const raw = await rawStreamSession(node.url, 68, common)
    sessions.push(raw)
    const joined = nextPeer(node.client)
    raw.sendAll(node.client.service.protocols[0]!.createStatus(68), [])
    const peer = await joined
    const banned = node.client.config.events.waitFor(Event.POOL_PEER_BANNED, { timeoutMs: WAIT_MS, filter: (p) => p.id === peer.id })
    const asked = peer.eth!.getBlockHeaders({ block: 0n, max: 1 })
    asked.catch(() => undefined)
    const request = await raw.next(EthCode.GetBlockHeaders)
    const genesis = node.client.chain.genesis.header
    const reply = encodeEthPayload('BlockHeaders', { reqId: (request.data as { reqId: bigint }).reqId, headers: [genesis, genesis] }, { version: 68, common })
    raw.send([[EthCode.BlockHeaders, reply]])
    const [, reason] = await banned
    expect(reason).toMatch(/^reputation .* after invalid_data$/)
    expect(peer.score).toBeLessThanOrEqual(BAN_THRESHOLD)
    expect(node.client.service.pool.contains(peer.id)).toBe(false)
    expect(node.client.server.isBanned(peer.id)).toBe(true)
  })
})
