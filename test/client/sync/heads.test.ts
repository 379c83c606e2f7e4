/**
 * Peer selection: which peer's head becomes the sync target. The peers are TestPeers whose
 * eth session is a stand-in that serves headers from a real test chain (or refuses to); the
 * selection, probing and ranking under test are the real ones.
 */
import { bytesToHex } from '@ethereumjs/util'
import { beforeAll, describe, expect, it } from 'vitest'

import { Config } from '../../../src/client/config'
import { UnservedHeadError } from '../../../src/client/sync/errors'
import { HeadProbes, selectTarget } from '../../../src/client/sync/heads'
import { byClaimedHead, byReputationThenHead, claimedHead } from '../../../src/client/sync/peerhead'
import { ReputationEvent } from '../../../src/client/net/reputation'
import { type TestChain, buildTestChain } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'
import { TestPeer } from '../helpers/peers'

import type { BlockHeader } from '@ethereumjs/block'
import type { Peer } from '../../../src/client/net/peer/peer'

let chain: TestChain
let headers: BlockHeader[]
const config = new Config({ common: testCommon() })

beforeAll(async () => {
  chain = await buildTestChain({ common: testCommon(), blocks: 10, txsPerBlock: 0 })
  headers = [chain.genesis.header, ...chain.blocks.map((b) => b.header)]
})

/** A peer whose Status names block `statusHead` and that serves headers up to `serves` (by hash). */
function peer(id: string, statusHead: number, serves = statusHead): TestPeer & { asked: number } {
  const p = new TestPeer(config, id.repeat(128).slice(0, 128)) as TestPeer & { asked: number }
  p.asked = 0
  const eth = {
    closed: false,
    status: { bestHash: headers[statusHead]!.hash() },
    async getBlockHeaders({ block }: { block: bigint | Uint8Array }) {
      p.asked++
      const found = headers.slice(0, serves + 1).find((h) => block instanceof Uint8Array && bytesToHex(h.hash()) === bytesToHex(block))
      return found === undefined ? [] : [found]
    },
  }
  p.eth = eth as unknown as Peer['eth']
  return p
}

describe('peer heads and target selection', () => {
  it('learns the number of a hash-only head by fetching its header from that peer, once', async () => {
    const a = peer('a', 7)
    expect(claimedHead(a)).toEqual({ hash: headers[7]!.hash(), number: undefined })
    const probes = new HeadProbes()
    expect((await probes.probe(a))?.number).toBe(7n)
    await probes.probe(a)
    expect(a.asked).toBe(1)
    expect(claimedHead(a)?.number).toBe(7n)
  })

  it('orders peers by claimed head, unknown heads last', async () => {
    const [a, b, c] = [peer('a', 3), peer('b', 9), peer('c', 5)]
    a.noteAnnouncement({ hash: headers[3]!.hash(), number: 3n })
    b.noteAnnouncement({ hash: headers[9]!.hash(), number: 9n })
    expect(byClaimedHead([a, c, b]).map((p) => p.id[0])).toEqual(['b', 'a', 'c'])
  })

  it('by default ranks distrusted peers (score below 0) last, then by head, a better score breaking ties', () => {
    const cfg = new Config({ common: testCommon() })
    const make = (id: string, n: number) => {
      const p = new TestPeer(cfg, id.repeat(128).slice(0, 128))
      p.noteAnnouncement({ hash: headers[n]!.hash(), number: BigInt(n) })
      return p
    }
    const [a, b, c, d] = [make('a', 9), make('b', 5), make('c', 5), make('d', 3)]
    cfg.reputation.report(a, ReputationEvent.TIMEOUT)
    cfg.reputation.report(c, ReputationEvent.SERVED)
    expect(a.score).toBeLessThan(0)
    expect(byReputationThenHead([a, b, c, d]).map((p) => p.id[0])).toEqual(['c', 'b', 'd', 'a'])
  })

  it('picks the longest head that its peer serves; a peer claiming what it cannot serve is reported', async () => {
    const liar = peer('a', 10, 4) // Status names #10, serves only up to #4
    const honest = peer('b', 8)
    const short = peer('c', 2)
    const errors: unknown[] = []
    const { target } = await selectTarget({ peers: [liar, honest, short], head: headers[2]!, probes: new HeadProbes(), isBad: () => false, onProbeError: (_p, e) => errors.push(e) })
    expect(target?.peer).toBe(honest)
    expect(target?.header.number).toBe(8n)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(UnservedHeadError)
  })

  it('keeps our head on a tie, and skips heads known to be bad', async () => {
    const probes = new HeadProbes()
    const same = peer('a', 6)
    const q = { head: headers[6]!, probes, isBad: () => false, onProbeError: () => undefined }
    expect(await selectTarget({ ...q, peers: [same] })).toEqual({ unsettled: 0 })
    const longer = peer('b', 9)
    expect((await selectTarget({ ...q, peers: [same, longer], isBad: (h) => bytesToHex(h) === bytesToHex(headers[9]!.hash()) })).target).toBeUndefined()
  })

  it('prefers the earlier-ranked of two peers with the same head', async () => {
    const [a, b] = [peer('a', 9), peer('b', 9)]
    const q = { head: headers[0]!, probes: new HeadProbes(), isBad: () => false, onProbeError: () => undefined }
    expect((await selectTarget({ ...q, peers: [b, a] })).target?.peer).toBe(b)
  })

  it('asks a peer whose probe timed out again, and counts it as unsettled meanwhile', async () => {
    const { RequestTimeoutError } = await import('../../../src/client/net/protocol/errors')
    const slow = peer('a', 9)
    let fail = true
    const serve = slow.eth!.getBlockHeaders.bind(slow.eth)
    ;(slow.eth as unknown as { getBlockHeaders: typeof serve }).getBlockHeaders = (opts) => (fail ? Promise.reject(new RequestTimeoutError('GetBlockHeaders', 1n, 10)) : serve(opts))
    const probes = new HeadProbes()
    const q = { head: headers[0]!, probes, isBad: () => false, onProbeError: () => undefined, peers: [slow] }
    expect(await selectTarget(q)).toEqual({ unsettled: 1 })
    fail = false
    expect((await selectTarget(q)).target?.header.number).toBe(9n)
  })
})
