/**
 * Hostile peers against the synchronizer and the transaction fetcher, on both networking
 * paths. Each case runs three whole clients on loopback: S (syncing, empty), H (honest, the
 * source chain) and X (the same chain, its answers tampered with: its service's handler is
 * wrapped so it answers, lies or stays silent as the case says). S prefers X (rankPeers), so
 * X gets work first; the case asserts S ends X's part with the typed reason and completes the
 * sync or the relay from H.
 */
import { randomBytes } from 'node:crypto'

import { bytesToHex } from '@ethereumjs/util'
import { afterAll, beforeAll, expect } from 'vitest'

import { testAccounts } from '../../src/chain-config'
import { type EthereumClient, Event, type Peer, type RankPeers } from '../../src/client'
import { Chain } from '../../src/client/blockchain/chain'
import { BadBodiesError, BadHeadersError, SyncTimeoutError, UnservedHeadError } from '../../src/client/sync/errors'
import { TxAnnouncementFloodError, TxFetchTimeoutError } from '../../src/client/service/txfetcher'
import { type TestChain, buildTestChain, makeTestTx } from '../../src/client/testing/testchain'
import { type NodeOptions, chainWith, enodeId, startNode, testCommon } from '../client/helpers/nodes'
import { WAIT_MS, waitUntil } from '../client/helpers/waits'
import { type BadInputCase, badInputTable } from './table'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { EthMessage, EthMessages } from '../../src/client/net/protocol/ethmessages'
import type { EventParams } from '../../src/client/types'

const BLOCKS = 64
const common = testCommon()
/** Short, so a silent peer is detected in a second rather than the default 8. */
const REQUEST_TIMEOUT_MS = 1_000
let source: TestChain
let served: Chain

beforeAll(async () => {
  source = await buildTestChain({ common, blocks: BLOCKS, txsPerBlock: 2, seed: 'sync-hostile' })
  served = await chainWith(common, source.blocks, source.receipts)
}, 120_000)

afterAll(async () => {
  await served.close()
})

/** Returns true when it answered (or chose silence) itself; false lets the honest handler answer. */
type Tamper = (msg: EthMessage, peer: Peer, client: EthereumClient) => boolean | Promise<boolean>

interface Trio {
  s: EthereumClient
  h: EthereumClient
  x: EthereumClient
  /** S's session with X, and X's with S. */
  sToX: Peer
  xToS: Peer
  hToS: Peer
  /** PEER_ERRORs S reported about X. */
  errorsOfX: Error[]
  close(): Promise<void>
}

/** `hPool`: transactions H holds before S connects (so H's relay never pushes them to S). */
async function trio(path: 'p2p' | 'rlpx', tamper: Tamper, sOpts: NodeOptions = {}, hPool: readonly TypedTransaction[] = []): Promise<Trio> {
  const started: EthereumClient[] = []
  const close = async (): Promise<void> => void (await Promise.all(started.map((c) => c.stop())))
  try {
    const base = { common, useP2PServer: path === 'p2p', discV4: false }
    const h = await startNode({ ...base, chain: served, sync: false })
    started.push(h.client)
    for (const tx of hPool) await h.client.service.txPool.add(tx)
    const x = await startNode({ ...base, chain: served, sync: false })
    started.push(x.client)
    const original = x.client.service.handle.bind(x.client.service)
    x.client.service.handle = async (msg, peer) => {
      if (!(await tamper(msg, peer, x.client))) await original(msg, peer)
    }
    const xId = enodeId(x.url)
    const preferX: RankPeers = (peers) => [...peers].sort((a, b) => Number(b.id === xId) - Number(a.id === xId))
    const s = await startNode({ ...base, bootnodes: [h.url, x.url], sync: false, requestTimeoutMs: REQUEST_TIMEOUT_MS, rankPeers: preferX, ...sOpts })
    started.push(s.client)
    const errorsOfX: Error[] = []
    s.client.config.events.on(Event.PEER_ERROR, (err, peer) => void (peer.id === xId && errorsOfX.push(err)))
    await waitUntil([s.client.config.events], [Event.POOL_PEER_ADDED], () => s.client.service.pool.size === 2)
    const sId = Buffer.from(s.client.config.nodeId).toString('hex')
    const sessionWith = async (c: EthereumClient, id: string): Promise<Peer> => {
      await waitUntil([c.config.events], [Event.POOL_PEER_ADDED], () => c.service.pool.contains(id))
      return c.service.pool.peers.find((p) => p.id === id)!
    }
    return { s: s.client, h: h.client, x: x.client, sToX: await sessionWith(s.client, xId), xToS: await sessionWith(x.client, sId), hToS: await sessionWith(h.client, sId), errorsOfX, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** Runs `body` on a fresh trio, and closes it whatever happens. */
async function withTrio(args: Parameters<typeof trio>, body: (t: Trio) => Promise<void>): Promise<void> {
  const t = await trio(...args)
  try {
    await body(t)
  } finally {
    await t.close()
  }
}

/** Starts S's synchronizer and resolves once S holds the source chain's head. */
async function syncCompletes(t: Trio): Promise<void> {
  const head = bytesToHex(source.blocks[BLOCKS - 1]!.hash())
  const done = waitUntil([t.s.config.events], [Event.CHAIN_UPDATED], () => bytesToHex(t.s.chain.headers.latest.hash()) === head, {
    timeoutMs: WAIT_MS * 2,
    describe: () => `S at #${t.s.chain.headers.height}`,
  })
  t.s.synchronizer.start()
  await done
}

function nextOnS<E extends Event>(t: Trio, event: E, filter: (...args: EventParams[E]) => boolean): Promise<EventParams[E]> {
  return t.s.config.events.waitFor(event, { timeoutMs: WAIT_MS * 2, filter })
}

function reply<N extends keyof EthMessages>(peer: Peer, name: N, data: EthMessages[N]): true {
  peer.eth!.send(name, data)
  return true
}

/** A transfer signed by test account `from`, for the fetcher cases. */
// Far above the senders' nonces on the source chain: the pools take them (as future transactions) on every node.
const transfer = (from: number, index: number) => makeTestTx(common, { kind: '1559-transfer', from: testAccounts[from]!, nonce: 1000n + BigInt(index), seed: 'hostile', index })

function syncCases(path: 'p2p' | 'rlpx'): BadInputCase[] {
  const small = { syncHeaderBatch: 16, syncBodyBatch: 8, syncReceiptBatch: 8 }
  return [
    {
      case: `${path}: a peer whose bodies do not match the headers`,
      expected: 'BadBodiesError (ERR_PEER_SYNC_BAD_BODIES) reported, the peer banned; the sync completes from the honest peer',
      timeoutMs: 60_000,
      run: async () => {
        await withTrio([
          path,
          async (msg, peer, x) => {
            if (msg.name !== 'GetBlockBodies') return false
            // Real bodies, of the next blocks: each one matches some header, not the one asked for.
            const shifted = await x.chain.getBodies(msg.data.hashes.map((_, i) => source.blocks[(i + 7) % BLOCKS]!.hash()))
            return reply(peer, 'BlockBodies', { reqId: msg.data.reqId, bodies: shifted })
          },
          small,
        ], async (t) => {
          const banned = nextOnS(t, Event.POOL_PEER_BANNED, (p) => p.id === t.sToX.id)
          await syncCompletes(t)
          const [, reason] = await banned
          expect(reason).toMatch(/transactions root/)
          expect(t.errorsOfX.some((e) => e instanceof BadBodiesError)).toBe(true)
        })
      },
    },
    {
      case: `${path}: a peer that stops answering mid-sync`,
      expected: `SyncTimeoutError (ERR_PEER_SYNC_TIMEOUT) after requestTimeoutMs, its jobs go to the honest peer; not banned; the sync completes`,
      timeoutMs: 60_000,
      run: async () => {
        let answered = 0
        await withTrio([path, (msg) => msg.name.startsWith('Get') && ++answered > 4, small], async (t) => {
          await syncCompletes(t)
          expect(t.errorsOfX.some((e) => e instanceof SyncTimeoutError)).toBe(true)
          expect(t.s.service.pool.contains(t.sToX.id)).toBe(true)
        })
      },
    },
    {
      case: `${path}: a peer that announces a head it cannot serve`,
      expected: 'UnservedHeadError (ERR_PEER_SYNC_HEAD_NOT_SERVED) reported, the claim not followed; the sync completes to the honest head',
      timeoutMs: 60_000,
      run: async () => {
        await withTrio([path, () => false], async (t) => {
          const fake = randomBytes(32)
          // The head announcement of the session's version: NewBlockHashes up to eth/68, BlockRangeUpdate from eth/69.
          const eth = t.xToS.eth!
          const announcement = eth.version >= 69 ? 'BlockRangeUpdate' : 'NewBlockHashes'
          const seen = nextOnS(t, Event.PROTOCOL_MESSAGE, (m) => m.name === announcement)
          if (announcement === 'BlockRangeUpdate') eth.send('BlockRangeUpdate', { earliestBlock: 0n, latestBlock: 10_000n, latestBlockHash: fake })
          else eth.send('NewBlockHashes', { hashes: [[fake, 10_000n]] })
          await seen
          expect(t.sToX.bestNumber).toBe(10_000n)
          await syncCompletes(t)
          const err = t.errorsOfX.find((e) => e instanceof UnservedHeadError)
          expect(err?.message).toContain(bytesToHex(fake))
          expect(t.s.chain.headers.height).toBe(BigInt(BLOCKS))
        })
      },
    },
    {
      case: `${path}: a peer that sends headers with a broken parent link`,
      expected: 'BadHeadersError (ERR_PEER_SYNC_BAD_HEADERS, "broken parent link") reported, the peer banned; the sync completes',
      timeoutMs: 60_000,
      run: async () => {
        await withTrio([
          path,
          async (msg, peer, x) => {
            if (msg.name !== 'GetBlockHeaders' || msg.data.max < 2 || msg.data.skip !== 0 || msg.data.reverse) return false
            const headers = await x.chain.getHeaders(msg.data.block, msg.data.max, 0, false)
            // The middle header swapped for one with its number but another parent: the link after it breaks.
            const i = headers.length >> 1
            const { createBlockHeader } = await import('@ethereumjs/block')
            headers[i] = createBlockHeader({ ...headers[i]!.toJSON(), extraData: '0x01' }, { common: headers[i]!.common })
            return reply(peer, 'BlockHeaders', { reqId: msg.data.reqId, headers })
          },
          small,
        ], async (t) => {
          const banned = nextOnS(t, Event.POOL_PEER_BANNED, (p) => p.id === t.sToX.id)
          await syncCompletes(t)
          const [, reason] = await banned
          expect(reason).toMatch(/broken parent link/)
          expect(t.errorsOfX.some((e) => e instanceof BadHeadersError)).toBe(true)
        })
      },
    },
  ]
}

function relayCases(path: 'p2p' | 'rlpx'): BadInputCase[] {
  return [
    {
      case: `${path}: an announcement flood of unknown transaction hashes past txAnnouncementsPerPeer (4096)`,
      expected: 'TxAnnouncementFloodError (ERR_PEER_TX_ANNOUNCE_FLOOD) naming the dropped excess; 4096 kept outstanding at most; a real transaction from the honest peer still arrives',
      timeoutMs: 60_000,
      run: async () => {
        await withTrio([path, () => false], async (t) => {
          const hashes = Array.from({ length: 5000 }, () => randomBytes(32))
          const flooded = nextOnS(t, Event.PEER_ERROR, (e) => e instanceof TxAnnouncementFloodError)
          t.xToS.eth!.send('NewPooledTransactionHashes', { types: hashes.map(() => 2), sizes: hashes.map(() => 120), hashes })
          const [err] = await flooded
          expect(err.message).toMatch(/904 transactions beyond its 4096/)
          const real = transfer(1, 1)
          const arrived = waitUntil([t.s.service.txPool], ['added'], () => t.s.service.txPool.has(real.hash()))
          await t.h.service.txPool.add(real)
          await arrived
        })
      },
    },
    {
      case: `${path}: a peer that announces transactions and never delivers them`,
      expected: 'TxFetchTimeoutError (ERR_PEER_TX_FETCH_TIMEOUT) after txFetchTimeoutMs; the transaction is fetched from the other peer that announced it; not banned',
      timeoutMs: 60_000,
      run: async () => {
        // X stays silent on GetPooledTransactions; H holds the transaction and announces it after X did.
        let asked!: () => void
        const xAsked = new Promise<void>((resolve) => (asked = resolve))
        const tx = transfer(2, 2)
        const silent: Tamper = (msg) => {
          if (msg.name !== 'GetPooledTransactions') return false
          asked()
          return true
        }
        await withTrio([path, silent, { txFetchTimeoutMs: 500 }, [tx]], async (t) => {
          const announce = { types: [tx.type], sizes: [tx.serialize().length], hashes: [tx.hash()] }
          t.xToS.eth!.send('NewPooledTransactionHashes', announce)
          await xAsked
          // While S waits on X, H announces it too: H is the alternate S turns to once X times out.
          const arrived = waitUntil([t.s.service.txPool], ['added'], () => t.s.service.txPool.has(tx.hash()))
          t.hToS.eth!.send('NewPooledTransactionHashes', announce)
          await arrived
          expect(t.errorsOfX.some((e) => e instanceof TxFetchTimeoutError)).toBe(true)
          expect(t.s.service.pool.contains(t.sToX.id)).toBe(true)
        })
      },
    },
  ]
}

for (const path of ['p2p', 'rlpx'] as const) {
  badInputTable('sync', `hostile peers against the synchronizer (${path})`, syncCases(path))
  badInputTable('sync', `hostile peers against transaction relay (${path})`, relayCases(path))
}
