/**
 * The transaction fetcher's queues: per-peer limits on outstanding announcements, one fetch
 * per hash across peers, alternates when a peer does not deliver, timeouts. Peers are
 * stand-ins whose GetPooledTransactions the test answers (or leaves unanswered) by hand.
 */
import { describe, expect, it } from 'vitest'

import { testAccounts } from '../../../src/chain-config'
import { PeerKnowledge } from '../../../src/client/service/knowledge'
import {
  TxAnnouncementFloodError,
  TxAnnouncementMismatchError,
  type TxFetchError,
  TxFetcher,
  TxFetchTimeoutError,
  TxNotDeliveredError,
} from '../../../src/client/service/txfetcher'
import { announcedSize } from '../../../src/client/service/txrelay'
import { makeTestTx } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'

import type { TypedTransaction } from '@ethereumjs/tx'

const common = testCommon()
const txs = Array.from({ length: 6 }, (_, i) => makeTestTx(common, { kind: '1559-transfer', from: testAccounts[i]!, nonce: 0n, seed: 'fetcher', index: i }))

interface Ask {
  hashes: Uint8Array[]
  answer: (txs: TypedTransaction[]) => void
}

/** A peer whose requests wait in `asks` until the test answers them. */
function peer(id: string) {
  const asks: Ask[] = []
  return {
    id,
    asks,
    toString: () => id,
    eth: {
      closed: false,
      getPooledTransactions: ({ hashes }: { hashes: Uint8Array[] }) => new Promise<TypedTransaction[]>((resolve) => asks.push({ hashes, answer: resolve })),
    },
  }
}

function fetcher(opts: { maxAnnouncements?: number; batch?: number; timeoutMs?: number } = {}) {
  const pooled = new Set<string>()
  const reports: { peer: string; err: TxFetchError }[] = []
  let onReport: () => void = () => undefined
  const nextReport = () => new Promise<void>((resolve) => (onReport = resolve))
  const delivered: string[] = []
  const f = new TxFetcher({
    maxAnnouncements: opts.maxAnnouncements ?? 4096,
    batch: opts.batch ?? 256,
    timeoutMs: opts.timeoutMs ?? 60_000,
    has: (h) => pooled.has(Buffer.from(h).toString('hex')),
    deliver: (_p, got) => {
      for (const tx of got) {
        const key = Buffer.from(tx.hash()).toString('hex')
        delivered.push(key)
        pooled.add(key)
        f.settle(tx.hash())
      }
    },
    report: (p, err) => {
      reports.push({ peer: p.id, err })
      onReport()
    },
    knowledge: new PeerKnowledge({ maxKnownBlocks: 16, maxKnownTxs: 1024 }),
  })
  return { f, reports, delivered, pooled, nextReport }
}

const key = (tx: TypedTransaction): string => Buffer.from(tx.hash()).toString('hex')
const announce = (list: TypedTransaction[]) => ({ hashes: list.map((t) => t.hash()), types: list.map((t) => t.type), sizes: list.map(announcedSize) })
const flush = () => new Promise((resolve) => setImmediate(resolve))

describe('TxFetcher', () => {
  it('keeps at most maxAnnouncements per peer outstanding and reports the excess as a flood', () => {
    const { f, reports } = fetcher({ maxAnnouncements: 3, batch: 1 })
    const a = peer('a')
    f.announced(a, announce(txs.slice(0, 5)))
    expect(f.outstanding('a')).toBe(3)
    expect(reports).toHaveLength(1)
    expect(reports[0]!.err).toBeInstanceOf(TxAnnouncementFloodError)
    expect(reports[0]!.err.message).toMatch(/2 transactions beyond its 3 outstanding/)
    expect(reports[0]!.err.provable).toBe(false)
    f.stop()
  })

  it('fetches each hash from one peer at a time; the others wait as alternates', async () => {
    const { f, delivered } = fetcher()
    const [a, b] = [peer('a'), peer('b')]
    f.announced(a, announce(txs.slice(0, 2)))
    f.announced(b, announce(txs.slice(0, 3)))
    // a asks for both; b only for the one a is not fetching.
    expect(a.asks.map((q) => q.hashes.length)).toEqual([2])
    expect(b.asks.map((q) => q.hashes.map((h) => Buffer.from(h).toString('hex')))).toEqual([[key(txs[2]!)]])
    expect(f.inFlight).toBe(3)
    a.asks[0]!.answer(txs.slice(0, 2))
    b.asks[0]!.answer([txs[2]!])
    await flush()
    expect(delivered.sort()).toEqual(txs.slice(0, 3).map(key).sort())
    // Delivered elsewhere: b is not asked for a's hashes afterwards.
    expect(b.asks).toHaveLength(1)
    expect(f.inFlight).toBe(0)
    f.stop()
  })

  it('turns to the next announcer for what a peer left out, and reports a peer that delivered nothing', async () => {
    const { f, delivered, reports } = fetcher()
    const [a, b] = [peer('a'), peer('b')]
    f.announced(a, announce([txs[0]!]))
    f.announced(b, announce([txs[0]!]))
    expect(b.asks).toHaveLength(0)
    a.asks[0]!.answer([])
    await flush()
    expect(reports.map((r) => [r.peer, r.err.constructor])).toEqual([['a', TxNotDeliveredError]])
    expect(b.asks).toHaveLength(1)
    b.asks[0]!.answer([txs[0]!])
    await flush()
    expect(delivered).toEqual([key(txs[0]!)])
    expect(f.outstanding('a')).toBe(0)
    f.stop()
  })

  it('gives up on a silent peer after timeoutMs and asks the alternate', async () => {
    const { f, reports, nextReport } = fetcher({ timeoutMs: 20 })
    const [a, b] = [peer('a'), peer('b')]
    const reported = nextReport()
    f.announced(a, announce([txs[1]!]))
    f.announced(b, announce([txs[1]!]))
    expect(b.asks).toHaveLength(0)
    await reported
    expect(reports.map((r) => r.err.constructor)).toEqual([TxFetchTimeoutError])
    expect(b.asks).toHaveLength(1)
    // A late answer from a changes nothing.
    a.asks[0]!.answer([txs[1]!])
    await flush()
    expect(f.inFlight).toBe(1)
    f.stop()
  })

  it('refuses a delivery whose type or size differs from the eth/68 announcement, as provable', async () => {
    const { f, delivered, reports } = fetcher()
    const a = peer('a')
    f.announced(a, { hashes: [txs[3]!.hash()], types: [txs[3]!.type], sizes: [announcedSize(txs[3]!) + 1] })
    a.asks[0]!.answer([txs[3]!])
    await flush()
    expect(delivered).toEqual([])
    expect(reports[0]!.err).toBeInstanceOf(TxAnnouncementMismatchError)
    expect(reports[0]!.err.provable).toBe(true)
    f.stop()
  })

  it('does not fetch what the pool holds, and forgets a departed peer, passing its fetch on', async () => {
    const { f, pooled } = fetcher()
    pooled.add(key(txs[4]!))
    const [a, b] = [peer('a'), peer('b')]
    f.announced(a, announce([txs[4]!, txs[5]!]))
    expect(a.asks[0]!.hashes.map((h) => Buffer.from(h).toString('hex'))).toEqual([key(txs[5]!)])
    f.announced(b, announce([txs[5]!]))
    expect(b.asks).toHaveLength(0)
    f.peerRemoved('a')
    expect(b.asks).toHaveLength(1)
    expect(f.outstanding('a')).toBe(0)
    f.stop()
  })
})
