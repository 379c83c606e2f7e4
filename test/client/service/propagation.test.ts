/**
 * What goes to whom when the head moves or a transaction enters the pool: the relay's √n
 * split of full transactions and announcements, the per-version head announcement, and the
 * bounded per-peer knowledge that keeps anything from being sent twice. Peers are TestPeers
 * in a real PeerPool whose eth session records what it is asked to send.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'

import { testAccounts } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { Config } from '../../../src/client/config'
import { PeerPool } from '../../../src/client/net/peerpool'
import { BlockAnnouncer, headAnnouncement } from '../../../src/client/service/blockannouncer'
import { PeerKnowledge } from '../../../src/client/service/knowledge'
import { TxPool } from '../../../src/client/service/txpool'
import { TxRelay, announcedSize } from '../../../src/client/service/txrelay'
import { buildTestChain, makeTestTx } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'
import { TestPeer } from '../helpers/peers'

import type { Peer } from '../../../src/client/net/peer/peer'

const common = testCommon()
const config = new Config({ common, maxPeers: 50 })

type Sent = { name: string; data: Record<string, unknown> }

function peers(n: number, version = 68): (TestPeer & { sent: Sent[] })[] {
  return Array.from({ length: n }, (_, i) => {
    const p = new TestPeer(config, i.toString(16).padStart(128, '0')) as TestPeer & { sent: Sent[] }
    p.sent = []
    p.eth = { version, closed: false, send: (name: string, data: Record<string, unknown>) => p.sent.push({ name, data }) } as unknown as Peer['eth']
    return p
  })
}

function setup(n: number, version = 68) {
  const pool = new PeerPool({ config })
  const list = peers(n, version)
  for (const p of list) pool.add(p)
  const knowledge = new PeerKnowledge({ maxKnownBlocks: 4, maxKnownTxs: 64 })
  const txPool = new TxPool({ common, maxSize: 100 })
  const relay = new TxRelay({ pool, txPool, knowledge })
  relay.start()
  return { pool, list, knowledge, txPool, relay }
}

const tx = (i: number) => makeTestTx(common, { kind: '1559-transfer', from: testAccounts[i]!, nonce: 0n, seed: 'relay', index: i })
const flush = () => new Promise((resolve) => setImmediate(resolve))

describe('TxRelay', () => {
  it('sends a new transaction in full to √n of the peers without it and announces it to the rest (with types and sizes on eth/68)', async () => {
    const { list, txPool, relay } = setup(9)
    const t = tx(0)
    await txPool.add(t)
    await flush()
    const full = list.filter((p) => p.sent.some((s) => s.name === 'Transactions'))
    const announced = list.filter((p) => p.sent.some((s) => s.name === 'NewPooledTransactionHashes'))
    expect(full).toHaveLength(3)
    expect(announced).toHaveLength(6)
    expect(announced[0]!.sent[0]!.data).toEqual({ types: [t.type], sizes: [announcedSize(t)], hashes: [t.hash()] })
    // Known to every peer now: adding it again (or gossip of it) sends nothing more.
    relay.flush()
    expect(list.reduce((n, p) => n + p.sent.length, 0)).toBe(9)
    relay.stop()
  })

  it('skips the peer it came from and peers that already know it; announces without types on eth/67', async () => {
    const { list, txPool, knowledge, relay } = setup(3, 67)
    const t = tx(1)
    knowledge.markTx(list[1]!.id, t.hash())
    await txPool.add(t, list[0]!.id)
    await flush()
    expect(list[0]!.sent).toEqual([])
    expect(list[1]!.sent).toEqual([])
    // One peer left: √1 = 1, it gets the transaction itself.
    expect(list[2]!.sent.map((s) => s.name)).toEqual(['Transactions'])
    relay.stop()
    const { list: old, txPool: p67, relay: r67 } = setup(4, 67)
    await p67.add(tx(2))
    await flush()
    const ann = old.flatMap((p) => p.sent).find((s) => s.name === 'NewPooledTransactionHashes')
    expect(ann?.data).toEqual({ hashes: [tx(2).hash()] })
    r67.stop()
  })
})

describe('BlockAnnouncer', () => {
  it('announces by NewBlockHashes up to eth/68 and by BlockRangeUpdate from eth/69', () => {
    expect([66, 67, 68].map(headAnnouncement)).toEqual(['NewBlockHashes', 'NewBlockHashes', 'NewBlockHashes'])
    expect([69, 70].map(headAnnouncement)).toEqual(['BlockRangeUpdate', 'BlockRangeUpdate'])
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('tells each peer of a new head once, and not the peers that announced it', async () => {
    const { pool, list, knowledge } = setup(3)
    const announcer = new BlockAnnouncer({ pool, knowledge, chain: await Chain.create({ common }), rangeIntervalMs: 1000 })
    const head = { height: 7n, hash: new Uint8Array(32).fill(7) }
    announcer.noteAnnounced(list[0]!, [head.hash])
    expect(announcer.announce(head)).toBe(2)
    expect(announcer.announce(head)).toBe(0)
    expect(list[1]!.sent).toEqual([{ name: 'NewBlockHashes', data: { hashes: [[head.hash, 7n]] } }])
    expect(list[0]!.sent).toEqual([])
  })

  it('eth/69+: a BlockRangeUpdate at once, then at most one per interval, carrying the range as it is when sent', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { pool, list, knowledge } = setup(2, 70)
    const src = await buildTestChain({ common, blocks: 2, txsPerBlock: 0, seed: 'ranges' })
    const chain = await Chain.create({ common })
    const announcer = new BlockAnnouncer({ pool, knowledge, chain, rangeIntervalMs: 1000 })
    const ref = () => ({ height: chain.headers.height, hash: chain.headers.latest.hash() })
    const range = () => ({ earliestBlock: 0n, latestBlock: chain.headers.height, latestBlockHash: chain.headers.latest.hash() })
    // A peer that has the block (it announced it) is still told our range.
    announcer.noteAnnounced(list[0]!, [chain.genesis.hash()])
    expect(announcer.announce(ref())).toBe(2)
    expect(list[0]!.sent).toEqual([{ name: 'BlockRangeUpdate', data: range() }])
    // The same range again: nothing.
    vi.advanceTimersByTime(1000)
    expect(announcer.announce(ref())).toBe(0)
    // Two head moves within the interval: nothing now, one update when it ends, with the range then.
    await chain.putBlocks(src.blocks.slice(0, 1))
    expect(announcer.announce(ref())).toBe(2)
    await chain.putBlocks(src.blocks.slice(1, 2))
    expect(announcer.announce(ref())).toBe(0)
    expect(list[1]!.sent).toHaveLength(2)
    vi.advanceTimersByTime(1000)
    expect(list[1]!.sent).toHaveLength(3)
    expect(list[1]!.sent[2]).toEqual({ name: 'BlockRangeUpdate', data: range() })
    expect(range().latestBlock).toBe(2n)
    announcer.stop()
  })
})

describe('PeerKnowledge', () => {
  it('is bounded per peer: the least recently seen hash is forgotten first', () => {
    const k = new PeerKnowledge({ maxKnownBlocks: 2, maxKnownTxs: 2 })
    const h = (i: number) => new Uint8Array(32).fill(i)
    k.markBlock('a', h(1))
    k.markBlock('a', h(2))
    k.markBlock('a', h(3))
    expect([1, 2, 3].map((i) => k.knowsBlock('a', h(i)))).toEqual([false, true, true])
    k.markTx('a', h(9))
    expect(k.knowsTx('a', h(9))).toBe(true)
    expect(k.knowsTx('b', h(9))).toBe(false)
    k.forget('a')
    expect(k.knowsBlock('a', h(3))).toBe(false)
    expect(k.size).toBe(0)
  })
})
