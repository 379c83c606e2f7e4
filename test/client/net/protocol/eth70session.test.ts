import { bytesToHex } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import {
  InvalidBlockRangeError,
  MessageFloodError,
  ReceiptContinuationError,
  ReceiptsMismatchError,
} from '../../../../src/client/net/protocol/errors'
import { EthCode, type EthMessageName, type EthMessages, decodeEthPayload, encodeEthPayload } from '../../../../src/client/net/protocol/ethmessages'
import { type EthStatusRange } from '../../../../src/client/net/protocol/ethstatus'
import { PartialReceipts } from '../../../../src/client/net/protocol/receiptfetch'
import { collectPartialReceipts } from '../../../../src/client/service/receipts'
import { Event } from '../../../../src/client/types'
import { filled, loadTestChain } from './fixtures'
import { MemorySender, type Side, collect, makeSide, nextEvent, nextStatus } from './harness'

import type { ConfigOptions } from '../../../../src/client/config'

/**
 * eth/69 and eth/70 in a session: the block-range Status and BlockRangeUpdate
 * checks (geth's ethtest BlockRangeUpdateInvalid / Expired / Future), the
 * update flood bound, and eth/70's partial receipt lists on both ends.
 */

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

const hex = (b: Uint8Array): string => bytesToHex(b)
const lists = (ls: Uint8Array[][]): string[][] => ls.map((l) => l.map(hex))

/** Binds `side` (eth/`version`) over a memory pair; the test drives the raw remote end. */
async function bindToRaw(side: Side, version: 69 | 70, remoteStatus?: (ours: EthStatusRange) => EthStatusRange) {
  const [local, remote] = MemorySender.pair(version)
  const ourStatus = nextStatus(remote)
  const bound = side.peer.bindProtocol(side.protocol, local)
  const ours = (await ourStatus) as EthStatusRange
  remote.sendStatus(remoteStatus ? remoteStatus(ours) : ours)
  await bound
  const eth = side.peer.eth!
  cleanups.push(() => eth.close())
  return { eth, local, remote }
}

function sendRaw<N extends EthMessageName>(remote: MemorySender, side: Side, version: number, name: N, data: EthMessages[N]): void {
  remote.sendMessage(EthCode[name], encodeEthPayload(name, data, { version, common: side.config.common }))
}

async function side(config: ConfigOptions = {}): Promise<Side> {
  return makeSide({ blocks: 0, config })
}

describe('the eth/69 Status', () => {
  it('sends our served range: genesis to head', async () => {
    const s = await makeSide()
    const { chain } = await loadTestChain()
    const status = s.protocol.createStatus(69)
    expect([status.earliestBlock, status.latestBlock, hex(status.latestBlockHash)]).toEqual([0n, BigInt(chain.blocks.length), hex(s.chain.headers.latest.hash())])
  })

  it.each([
    ['earliest > latest', (o: EthStatusRange) => ({ ...o, earliestBlock: o.latestBlock + 1n }), /earliest block 1 > latest block 0/],
    ['a zero latest hash', (o: EthStatusRange) => ({ ...o, latestBlockHash: new Uint8Array(32) }), /latest block hash is zero/],
  ])('refuses a Status with %s: InvalidBlockRangeError ends the handshake', async (_what, change, reason) => {
    const s = await side()
    const [local, remote] = MemorySender.pair(69)
    const ourStatus = nextStatus(remote)
    const bound = s.protocol.bind(s.peer, local)
    remote.sendStatus(change((await ourStatus) as EthStatusRange))
    const err = await bound.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidBlockRangeError)
    expect((err as InvalidBlockRangeError).code).toBe('ERR_ETH_INVALID_BLOCK_RANGE')
    expect((err as Error).message).toMatch(reason)
    expect(local.closed).toBe(true)
  })

  it('accepts a range that starts late (expired history) or lies beyond our head', async () => {
    const s = await side()
    const { eth } = await bindToRaw(s, 70, (o) => ({ ...o, earliestBlock: 1000n, latestBlock: 5000n, latestBlockHash: filled(32, 7) }))
    expect(eth.status).toMatchObject({ earliestBlock: 1000n, latestBlock: 5000n })
    expect(s.peer.blockRange?.latestBlock).toBe(5000n)
  })
})

describe('BlockRangeUpdate', () => {
  it('invalid (earliest > latest, as geth\'s BlockRangeUpdateInvalid): PROTOCOL_ERROR InvalidBlockRangeError, not routed', async () => {
    const s = await side()
    const { remote } = await bindToRaw(s, 69)
    const messages = collect(s.config.events, Event.PROTOCOL_MESSAGE)
    cleanups.push(messages.stop)
    const reported = nextEvent(s.config.events, Event.PROTOCOL_ERROR)
    sendRaw(remote, s, 69, 'BlockRangeUpdate', { earliestBlock: 10n, latestBlock: 8n, latestBlockHash: filled(32, 1) })
    const [err, peer] = await reported
    expect(err).toBeInstanceOf(InvalidBlockRangeError)
    expect((err as InvalidBlockRangeError).source).toBe('BlockRangeUpdate')
    expect(peer).toBe(s.peer)
    expect(messages.items).toEqual([])
  })

  it.each([
    ['expired history (BlockRangeUpdateExpired)', { earliestBlock: 90n, latestBlock: 100n }],
    ['a range beyond our head (BlockRangeUpdateFuture)', { earliestBlock: 110n, latestBlock: 150n }],
  ])('%s is accepted and routed, the session stays up', async (_what, range) => {
    const s = await side()
    const { eth, remote } = await bindToRaw(s, 70)
    const errors = collect(s.config.events, Event.PROTOCOL_ERROR)
    cleanups.push(errors.stop)
    const routed = nextEvent(s.config.events, Event.PROTOCOL_MESSAGE)
    sendRaw(remote, s, 70, 'BlockRangeUpdate', { ...range, latestBlockHash: filled(32, 3) })
    const [msg] = await routed
    expect(msg.name).toBe('BlockRangeUpdate')
    expect(msg.data).toMatchObject(range)
    // The session still answers afterwards.
    const reply = nextEvent(s.config.events, Event.PROTOCOL_MESSAGE)
    sendRaw(remote, s, 70, 'GetBlockBodies', { reqId: 1n, hashes: [] })
    expect((await reply)[0].name).toBe('GetBlockBodies')
    expect(eth.closed).toBe(false)
    expect(errors.items).toEqual([])
  })

  it(`a flood beyond maxBlockRangeUpdatesPerMinute is a PROTOCOL_ERROR MessageFloodError`, async () => {
    const s = await side({ maxBlockRangeUpdatesPerMinute: 3 })
    const { remote } = await bindToRaw(s, 69)
    const routed = collect(s.config.events, Event.PROTOCOL_MESSAGE)
    cleanups.push(routed.stop)
    const reported = nextEvent(s.config.events, Event.PROTOCOL_ERROR)
    for (let n = 1n; n <= 4n; n++) sendRaw(remote, s, 69, 'BlockRangeUpdate', { earliestBlock: 0n, latestBlock: n, latestBlockHash: filled(32, 1) })
    const [err] = await reported
    expect(err).toBeInstanceOf(MessageFloodError)
    expect((err as MessageFloodError).code).toBe('ERR_ETH_MESSAGE_FLOOD')
    expect(routed.items.map(([m]) => (m.data as { latestBlock: bigint }).latestBlock)).toEqual([1n, 2n, 3n])
  })
})

describe('PartialReceipts (the requester of eth/70 partial lists)', () => {
  const h = [filled(32, 1), filled(32, 2), filled(32, 3)]
  const r = (n: number): Uint8Array => Uint8Array.of(0xc1, n)

  it('continues an incomplete list where it stopped and merges it', () => {
    const f = new PartialReceipts(h, 4)
    expect(f.next()).toEqual({ hashes: h, firstBlockReceiptIndex: 0n })
    expect(f.add({ receipts: [[r(1)], [r(2), r(3)]], lastBlockIncomplete: true })).toBe(false)
    expect(f.next()).toEqual({ hashes: h.slice(1), firstBlockReceiptIndex: 2n })
    expect(f.add({ receipts: [[r(4)]], lastBlockIncomplete: true })).toBe(false)
    expect(f.next()).toEqual({ hashes: h.slice(1), firstBlockReceiptIndex: 3n })
    expect(f.add({ receipts: [[r(5)], [r(6)]], lastBlockIncomplete: false })).toBe(true)
    expect(lists(f.lists)).toEqual(lists([[r(1)], [r(2), r(3), r(4), r(5)], [r(6)]]))
  })

  it('never returns a list left unfinished: a final reply without it drops it', () => {
    const f = new PartialReceipts(h, 4)
    f.add({ receipts: [[r(1)], [r(2)]], lastBlockIncomplete: true })
    expect(f.add({ receipts: [], lastBlockIncomplete: false })).toBe(true)
    expect(lists(f.lists)).toEqual(lists([[r(1)]]))
  })

  it('stops a peer that claims incomplete forever: at most maxContinuations follow-ups per block', () => {
    const f = new PartialReceipts(h, 3)
    // The first incomplete reply asks follow-up 1; the replies to follow-ups 1 and 2 ask 2 and 3.
    f.add({ receipts: [[r(0)]], lastBlockIncomplete: true })
    for (let i = 1; i <= 2; i++) expect(f.add({ receipts: [[r(i)]], lastBlockIncomplete: true })).toBe(false)
    // The reply to follow-up 3 would need a fourth.
    expect(() => f.add({ receipts: [[r(3)]], lastBlockIncomplete: true })).toThrow(/still incomplete after 3 follow-up requests/)
  })

  it('counts per block: a new block becoming incomplete starts its own count', () => {
    const f = new PartialReceipts(h, 1)
    f.add({ receipts: [[r(0)]], lastBlockIncomplete: true })
    expect(f.add({ receipts: [[r(1)], [r(2)]], lastBlockIncomplete: true })).toBe(false)
    expect(f.add({ receipts: [[r(3)], [r(4)]], lastBlockIncomplete: false })).toBe(true)
    expect(lists(f.lists)).toEqual(lists([[r(0), r(1)], [r(2), r(3)], [r(4)]]))
  })

  it('with the blocks\' gas used known, holds a partial list to what that gas pays for (EIP-7975)', () => {
    // 2 transfers' worth of gas: at most 2 receipts.
    const f = new PartialReceipts(h, 16, [42_000n, 0n, 0n])
    expect(f.add({ receipts: [[r(1), r(2)]], lastBlockIncomplete: true })).toBe(false)
    expect(() => f.add({ receipts: [[r(3)]], lastBlockIncomplete: true })).toThrow(/3 receipts .* more than its 42000 gas used allows/)
    // Bytes: 1M gas pays for 125000 bytes of log data plus 47 receipts' fixed parts.
    const big = new PartialReceipts(h, 16, [1_000_000n, 0n, 0n])
    expect(() => big.add({ receipts: [[new Uint8Array(200_000)]], lastBlockIncomplete: true })).toThrow(/200000 bytes so far/)
    expect(new PartialReceipts(h, 16, [1_000_000n, 0n, 0n]).add({ receipts: [[new Uint8Array(100_000)]], lastBlockIncomplete: true })).toBe(false)
  })

  it('refuses a reply marked incomplete that carries no receipt (no progress)', () => {
    expect(() => new PartialReceipts(h, 4).add({ receipts: [], lastBlockIncomplete: true })).toThrow(/without a single receipt/)
    const f = new PartialReceipts(h, 4)
    f.add({ receipts: [[r(1)]], lastBlockIncomplete: true })
    expect(() => f.add({ receipts: [[]], lastBlockIncomplete: true })).toThrow(ReceiptContinuationError)
  })
})

describe('collectPartialReceipts (the server of eth/70 partial lists)', () => {
  const receipt = (size: number, tag: number): Uint8Array => new Uint8Array(size).fill(tag)
  const blocks = new Map<string, Uint8Array[]>([
    [hex(filled(32, 1)), [receipt(100, 1), receipt(100, 2)]],
    [hex(filled(32, 2)), [receipt(400, 3), receipt(400, 4), receipt(400, 5)]],
    [hex(filled(32, 3)), [receipt(50, 6)]],
  ])
  const lookup = async (h: Uint8Array): Promise<Uint8Array[] | undefined> => blocks.get(hex(h))
  const all = [filled(32, 1), filled(32, 2), filled(32, 3)]
  const tags = (ls: Uint8Array[][]): number[][] => ls.map((l) => l.map((x) => x[0]!))

  it('serves whole lists while below the soft limit', async () => {
    const reply = await collectPartialReceipts(all, 0n, lookup, { softLimitBytes: 10_000, maxBlocks: 1024 })
    expect([tags(reply.receipts), reply.lastBlockIncomplete]).toEqual([[[1, 2], [3, 4, 5], [6]], false])
  })

  it('cuts a list between receipts once the reply reaches the soft limit, and says so', async () => {
    const reply = await collectPartialReceipts(all, 0n, lookup, { softLimitBytes: 500, maxBlocks: 1024 })
    // 200 bytes, then 600 with receipt 3: receipt 4 would start past the limit.
    expect([tags(reply.receipts), reply.lastBlockIncomplete]).toEqual([[[1, 2], [3]], true])
  })

  it('starts the first list at firstBlockReceiptIndex; past its end the first list is empty', async () => {
    const from = await collectPartialReceipts(all.slice(1), 2n, lookup, { softLimitBytes: 500, maxBlocks: 1024 })
    expect([tags(from.receipts), from.lastBlockIncomplete]).toEqual([[[5], [6]], false])
    const past = await collectPartialReceipts(all.slice(1), 2n ** 64n - 1n, lookup, { softLimitBytes: 500, maxBlocks: 1024 })
    expect(tags(past.receipts)).toEqual([[], [6]])
  })

  it('always makes progress (a receipt larger than the limit goes alone), stops at an unknown block and after maxBlocks', async () => {
    const one = await collectPartialReceipts(all.slice(1), 0n, lookup, { softLimitBytes: 1, maxBlocks: 1024 })
    expect([tags(one.receipts), one.lastBlockIncomplete]).toEqual([[[3]], true])
    const unknown = await collectPartialReceipts([all[0]!, filled(32, 9), all[2]!], 0n, lookup, { softLimitBytes: 10_000, maxBlocks: 1024 })
    expect(tags(unknown.receipts)).toEqual([[1, 2]])
    const capped = await collectPartialReceipts(all, 0n, lookup, { softLimitBytes: 10_000, maxBlocks: 2 })
    expect(tags(capped.receipts)).toEqual([[1, 2], [3, 4, 5]])
  })
})

describe('getReceipts on eth/70', () => {
  /** A remote that answers GetReceipts from `receiptsOf`, `perReply` receipts at a time, marking cut lists incomplete. */
  function splittingServer(s: Side, remote: MemorySender, receiptsOf: (hash: Uint8Array) => Uint8Array[] | undefined, perReply: number): { requests: EthMessages['GetReceipts'][] } {
    const requests: EthMessages['GetReceipts'][] = []
    const onMessage = (m: { code: number; payload: Uint8Array | unknown[] }) => {
      const msg = decodeEthPayload(m.code, m.payload as Uint8Array, { version: 70, common: s.config.common })
      if (msg.name !== 'GetReceipts') return
      requests.push(msg.data)
      const out: Uint8Array[][] = []
      let budget = perReply
      let incomplete = false
      for (const [i, hash] of msg.data.hashes.entries()) {
        const all = receiptsOf(hash)
        if (all === undefined) break
        const rest = all.slice(i === 0 ? Number(msg.data.firstBlockReceiptIndex) : 0)
        const part = rest.slice(0, budget)
        out.push(part)
        budget -= part.length
        if (part.length < rest.length) {
          incomplete = true
          break
        }
        if (budget === 0) break
      }
      sendRaw(remote, s, 70, 'Receipts', { reqId: msg.data.reqId, receipts: out, lastBlockIncomplete: incomplete })
    }
    remote.on('message', onMessage)
    cleanups.push(() => remote.off('message', onMessage))
    return { requests }
  }

  it('assembles lists split over several replies and checks them against the headers', async () => {
    const s = await side()
    const { chain } = await loadTestChain()
    const { eth, remote } = await bindToRaw(s, 70)
    const byHash = new Map(chain.blocks.map((b, i) => [hex(b.hash()), chain.receipts[i]!]))
    const server = splittingServer(s, remote, (h) => byHash.get(hex(h)), 5)
    const headers = chain.blocks.map((b) => b.header)
    const got = await eth.getReceipts({ hashes: headers.map((hd) => hd.hash()), headers })
    // 4 blocks x 6 receipts, 5 per reply: complete after 5 replies, each continuing where the last stopped.
    expect(lists(got)).toEqual(lists(chain.receipts))
    expect(server.requests.map((q) => [q.hashes.length, q.firstBlockReceiptIndex])).toEqual([
      [4, 0n],
      [4, 5n],
      [3, 4n],
      [2, 3n],
      [1, 2n],
    ])
  })

  it('a peer marking a list incomplete forever is stopped after maxReceiptContinuations follow-ups: ReceiptContinuationError, PROTOCOL_ERROR', async () => {
    const s = await side({ maxReceiptContinuations: 5 })
    const { chain } = await loadTestChain()
    const { eth, remote } = await bindToRaw(s, 70)
    const endless = Array.from({ length: 1000 }, () => chain.receipts[0]![0]!)
    const server = splittingServer(s, remote, () => endless, 1)
    const reported = nextEvent(s.config.events, Event.PROTOCOL_ERROR)
    const err = await eth.getReceipts({ hashes: [chain.blocks[0]!.hash()] }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ReceiptContinuationError)
    expect((await reported)[0]).toBe(err)
    expect(server.requests).toHaveLength(1 + 5)
  })

  it('a list that does not match its receipts root: ReceiptsMismatchError, PROTOCOL_ERROR', async () => {
    const s = await side()
    const { chain } = await loadTestChain()
    const { eth, remote } = await bindToRaw(s, 70)
    splittingServer(s, remote, () => chain.receipts[1], 100) // block 2's receipts for block 1
    const reported = nextEvent(s.config.events, Event.PROTOCOL_ERROR)
    const header = chain.blocks[0]!.header
    const err = await eth.getReceipts({ hashes: [header.hash()], headers: [header] }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ReceiptsMismatchError)
    expect((err as Error).message).toMatch(/receipts root/)
    expect((await reported)[0]).toBe(err)
  })
})
