import { expect } from 'vitest'
import { DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE, DEFAULT_MAX_RECEIPT_CONTINUATIONS } from '../../src/client/config'
import {
  EthCodecError,
  InvalidBlockRangeError,
  MessageFloodError,
  ReceiptContinuationError,
  ReceiptsMismatchError,
} from '../../src/client/net/protocol/errors'
import { decodeEthPayload, encodeEthPayload, encodeStatus, EthCode, type EthStatusRange } from '../../src/client/net/protocol/ethmessages'
import { Event, type ProtocolMessage } from '../../src/client/types'
import type { Peer } from '../../src/client/net/peer/peer'
import { waitUntil } from '../utils/sockets'
import { connectedPeer, nextEvent, sourceChain } from './client-fixture'
import { type Offender, useLiveNode } from './eth-offender'
import { badInputTable, expectRejectsTyped, expectTypedError } from './table'

/**
 * eth/69 and eth/70 session bad input against a live node B (8 blocks) while
 * a good node A keeps fetching headers from it: the block-range Status and
 * BlockRangeUpdate checks (geth's ethtest BlockRangeUpdateInvalid, Expired and
 * Future), the update flood bound, the block announcements eth/69 removed,
 * and lying Receipts replies to B's own requests (eth/70 lists marked
 * incomplete forever, a list that does not match its receipts root).
 */

const live = useLiveNode()

const hash = (fill: number): Uint8Array => new Uint8Array(32).fill(fill)
const range = (o: Offender): EthStatusRange => o.status as EthStatusRange

/** Our Status (a copy of B's) and one round trip: the eth/`version` session is up. */
async function established(o: Offender): Promise<void> {
  o.send(EthCode.Status, encodeStatus(o.status))
  await live.roundTrip(o)
}

function sendRange(o: Offender, version: number, r: { earliestBlock: bigint; latestBlock: bigint; latestBlockHash: Uint8Array }): void {
  o.send(EthCode.BlockRangeUpdate, encodeEthPayload('BlockRangeUpdate', r, { version, common: live.b.config.common }))
}

/** The next message B routes from peer `id` named `name`. */
function routedFrom(id: string, name: string): Promise<ProtocolMessage> {
  return nextEvent(live.b, Event.PROTOCOL_MESSAGE, (m: ProtocolMessage, _p: string, peer: Peer) => peer.id === id && m.name === name).then(([m]) => m)
}

/** PROTOCOL_ERRORs B reports about `id` from now on. */
function protocolErrorsOf(id: string): { items: Error[]; stop: () => void } {
  const items: Error[] = []
  const listener = (err: Error, peer: Peer): void => void (peer.id === id && items.push(err))
  live.b.config.events.on(Event.PROTOCOL_ERROR, listener)
  return { items, stop: () => void live.b.config.events.off(Event.PROTOCOL_ERROR, listener) }
}

/** A range update B must accept: routed like any announcement, the session still answering afterwards, no error. */
async function expectAccepted(o: Offender, version: number, r: { earliestBlock: bigint; latestBlock: bigint; latestBlockHash: Uint8Array }): Promise<void> {
  await established(o)
  const errors = protocolErrorsOf(o.id)
  try {
    const routed = routedFrom(o.id, 'BlockRangeUpdate')
    sendRange(o, version, r)
    expect((await routed).data).toMatchObject({ earliestBlock: r.earliestBlock, latestBlock: r.latestBlock })
    await live.roundTrip(o)
    expect(errors.items).toEqual([])
    expect(o.conn.status).toBe('open')
  } finally {
    errors.stop()
  }
}

/**
 * Answers every GetReceipts B sends the offender with `reply(request)` (an
 * eth/`version` Receipts payload) until the stream ends; resolves with the
 * requests seen.
 */
async function answerReceipts(o: Offender, version: number, reply: (req: { reqId: bigint; hashes: Uint8Array[] }) => unknown): Promise<number> {
  let requests = 0
  for (let m = await o.next(); m !== undefined; m = await o.next()) {
    if (m.code !== EthCode.GetReceipts) continue
    requests++
    const req = decodeEthPayload(m.code, m.payload, { version, common: live.b.config.common }).data as { reqId: bigint; hashes: Uint8Array[] }
    o.send(EthCode.Receipts, reply(req) as never)
  }
  return requests
}

badInputTable('eth', 'eth/69 and eth/70 sessions on a live node (a good peer keeps fetching headers throughout)', [
  {
    case: 'eth/69 Status with earliestBlock > latestBlock',
    expected: 'PEER_ERROR InvalidBlockRangeError (ERR_ETH_INVALID_BLOCK_RANGE, source Status); connection closed',
    run: () =>
      live.against(69, async (o) => {
        const reported = live.errorFrom(Event.PEER_ERROR, o.id)
        o.send(EthCode.Status, encodeStatus({ ...range(o), earliestBlock: range(o).latestBlock + 1n }))
        const err = expectTypedError(await reported, InvalidBlockRangeError, 'ERR_ETH_INVALID_BLOCK_RANGE')
        expect(err.source).toBe('Status')
        await waitUntil(o.conn, ['close'], () => o.conn.status === 'closed', 'offender disconnected')
      }),
  },
  {
    case: 'BlockRangeUpdate with earliest > latest (geth ethtest BlockRangeUpdateInvalid)',
    expected: 'PROTOCOL_ERROR InvalidBlockRangeError (ERR_ETH_INVALID_BLOCK_RANGE, source BlockRangeUpdate); not routed',
    run: () =>
      live.against(69, async (o) => {
        await established(o)
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        sendRange(o, 69, { earliestBlock: 10n, latestBlock: 8n, latestBlockHash: range(o).latestBlockHash })
        expect(expectTypedError(await reported, InvalidBlockRangeError, 'ERR_ETH_INVALID_BLOCK_RANGE').source).toBe('BlockRangeUpdate')
      }),
  },
  {
    case: 'BlockRangeUpdate announcing expired history (geth ethtest BlockRangeUpdateExpired)',
    expected: 'accepted: routed as an announcement, no error, the session keeps answering',
    run: () => live.against(70, (o) => expectAccepted(o, 70, { earliestBlock: 5n, latestBlock: 8n, latestBlockHash: range(o).latestBlockHash })),
  },
  {
    case: 'BlockRangeUpdate beyond our head with an unknown hash (geth ethtest BlockRangeUpdateFuture)',
    expected: 'accepted: routed as an announcement, no error, the session keeps answering',
    run: () => live.against(69, (o) => expectAccepted(o, 69, { earliestBlock: 18n, latestBlock: 58n, latestBlockHash: hash(0x5a) })),
  },
  {
    case: `${DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE + 1} BlockRangeUpdates within a minute`,
    expected: `PROTOCOL_ERROR MessageFloodError (ERR_ETH_MESSAGE_FLOOD) at update ${DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE + 1} (maxBlockRangeUpdatesPerMinute)`,
    run: () =>
      live.against(70, async (o) => {
        await established(o)
        const errors = protocolErrorsOf(o.id)
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        for (let i = 0; i <= DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE; i++) sendRange(o, 70, { earliestBlock: 0n, latestBlock: 8n, latestBlockHash: range(o).latestBlockHash })
        expectTypedError(await reported, MessageFloodError, 'ERR_ETH_MESSAGE_FLOOD')
        errors.stop()
        expect(errors.items).toHaveLength(1)
      }),
  },
  {
    case: 'NewBlock on an eth/69 session',
    expected: 'PROTOCOL_ERROR EthCodecError (ERR_ETH_DECODE: code 0x7 is not valid on eth/69)',
    run: () =>
      live.against(69, async (o) => {
        await established(o)
        const src = await sourceChain()
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.NewBlock, encodeEthPayload('NewBlock', { block: src.blocks[7]!, td: 0n }, { version: 68, common: live.b.config.common }))
        const err = expectTypedError(await reported, EthCodecError, 'ERR_ETH_DECODE')
        expect(err.message).toMatch(/code 0x7 is not valid on eth\/69/)
      }),
  },
  {
    case: 'NewBlockHashes on an eth/70 session',
    expected: 'PROTOCOL_ERROR EthCodecError (ERR_ETH_DECODE: code 0x1 is not valid on eth/70)',
    run: () =>
      live.against(70, async (o) => {
        await established(o)
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.NewBlockHashes, [[range(o).latestBlockHash, Uint8Array.of(8)]])
        expect(expectTypedError(await reported, EthCodecError, 'ERR_ETH_DECODE').message).toMatch(/code 0x1 is not valid on eth\/70/)
      }),
  },
  {
    case: 'Receipts replies to our eth/70 GetReceipts marking the list incomplete forever (one receipt each)',
    expected: `getReceipts rejects with ReceiptContinuationError (ERR_ETH_RECEIPT_CONTINUATION) after ${DEFAULT_MAX_RECEIPT_CONTINUATIONS} follow-ups (maxReceiptContinuations), PROTOCOL_ERROR`,
    run: () =>
      live.against(70, async (o) => {
        await established(o)
        const src = await sourceChain()
        const receipt = src.receipts[0]![0]!
        const answering = answerReceipts(o, 70, (req) => encodeEthPayload('Receipts', { reqId: req.reqId, receipts: [[receipt]], lastBlockIncomplete: true }, { version: 70, common: live.b.config.common }))
        const peer = await connectedPeer(live.b, o.id)
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        await expectRejectsTyped(peer.eth!.getReceipts({ hashes: [src.blocks[0]!.hash()] }), ReceiptContinuationError, 'ERR_ETH_RECEIPT_CONTINUATION')
        expectTypedError(await reported, ReceiptContinuationError, 'ERR_ETH_RECEIPT_CONTINUATION')
        o.close()
        expect(await answering).toBe(1 + DEFAULT_MAX_RECEIPT_CONTINUATIONS)
      }),
  },
  {
    case: 'a Receipts reply (eth/69) whose list does not match the block\'s receipts root',
    expected: 'getReceipts with headers rejects with ReceiptsMismatchError (ERR_ETH_RECEIPTS_MISMATCH), PROTOCOL_ERROR',
    run: () =>
      live.against(69, async (o) => {
        await established(o)
        const src = await sourceChain()
        // Block 2's receipts, offered as block 1's.
        void answerReceipts(o, 69, (req) => encodeEthPayload('Receipts', { reqId: req.reqId, receipts: [src.receipts[1]!] }, { version: 69, common: live.b.config.common }))
        const peer = await connectedPeer(live.b, o.id)
        const reported = live.errorFrom(Event.PROTOCOL_ERROR, o.id)
        const header = src.blocks[0]!.header
        const err = await expectRejectsTyped(peer.eth!.getReceipts({ hashes: [header.hash()], headers: [header] }), ReceiptsMismatchError, 'ERR_ETH_RECEIPTS_MISMATCH')
        expect(err.message).toMatch(/receipts root/)
        expectTypedError(await reported, ReceiptsMismatchError, 'ERR_ETH_RECEIPTS_MISMATCH')
      }),
  },
])
