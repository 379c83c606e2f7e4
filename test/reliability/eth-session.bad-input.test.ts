import { RLP } from '@ethereumjs/rlp'
import { expect } from 'vitest'
import { MAX_HEADERS_SERVE } from '../../src/client/blockchain/chain'
import {
  DuplicateStatusError,
  EthCodecError,
  MessageBeforeStatusError,
  StatusMismatchError,
  UnexpectedResponseError,
} from '../../src/client/net/protocol/errors'
import { encodeStatus, EthCode, type EthStatusTd } from '../../src/client/net/protocol/ethmessages'
import { EthMessageTooLargeError } from '../../src/client/net/protocol/streamsender'
import { Event } from '../../src/client/types'
import { encodeUvarint } from '../../src/p2p/index'
import { waitUntil } from '../utils/sockets'
import { type Offender, useLiveNode } from './eth-offender'
import { badInputTable, expectTypedError } from './table'

import type { Input } from '@ethereumjs/rlp'

/**
 * ETH-session bad input against a live node B while a good node A keeps
 * fetching headers from it the whole time: each case checks the offender's
 * typed outcome on B's event bus (PEER_ERROR for a failed handshake,
 * PROTOCOL_ERROR once the session runs), bans where B bans, and that A's
 * requests never failed and kept making progress.
 */

const live = useLiveNode()
const VERSION = 68

/** Runs a case against a fresh eth/68 offender, then checks the good peer. */
const against = (run: (o: Offender) => Promise<void>): Promise<void> => live.against(VERSION, run)
const errorFrom = (event: Event.PEER_ERROR | Event.PROTOCOL_ERROR, id: string): Promise<Error> => live.errorFrom(event, id)
const roundTrip = (o: Offender): Promise<void> => live.roundTrip(o)

/** Our Status as a copy of B's with one field changed. */
function statusLike(s: Offender['status'], change: Partial<EthStatusTd>): Input {
  return encodeStatus({ ...(s as EthStatusTd), ...change })
}

const hash = (fill: number): Uint8Array => new Uint8Array(32).fill(fill)

badInputTable('eth', 'session on a live node (a good peer keeps fetching headers throughout)', [
  {
    case: 'Status with another genesis hash',
    expected: 'PEER_ERROR StatusMismatchError (ERR_ETH_STATUS_MISMATCH, field genesisHash); connection closed; offender banned',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PEER_ERROR, o.id)
        o.send(EthCode.Status, statusLike(o.status, { genesisHash: hash(9) }))
        const err = expectTypedError(await reported, StatusMismatchError, 'ERR_ETH_STATUS_MISMATCH')
        expect(err.field).toBe('genesisHash')
        await waitUntil(o.conn, ['close'], () => o.conn.status === 'closed', 'offender disconnected')
        expect(live.b.server.isBanned(o.id)).toBe(true)
      }),
  },
  {
    case: 'Status with another network id',
    expected: 'PEER_ERROR StatusMismatchError (field networkId); offender banned',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PEER_ERROR, o.id)
        o.send(EthCode.Status, statusLike(o.status, { networkId: o.status.networkId + 1n }))
        expect(expectTypedError(await reported, StatusMismatchError, 'ERR_ETH_STATUS_MISMATCH').field).toBe('networkId')
        expect(live.b.server.isBanned(o.id)).toBe(true)
      }),
  },
  {
    case: 'Status with an incompatible fork id',
    expected: 'PEER_ERROR StatusMismatchError (field forkId, EIP-2124 rejection); offender banned',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PEER_ERROR, o.id)
        o.send(EthCode.Status, statusLike(o.status, { forkId: { hash: Uint8Array.of(0xde, 0xad, 0xbe, 0xef), next: 0n } }))
        expect(expectTypedError(await reported, StatusMismatchError, 'ERR_ETH_STATUS_MISMATCH').field).toBe('forkId')
        expect(live.b.server.isBanned(o.id)).toBe(true)
      }),
  },
  {
    case: 'GetBlockHeaders before Status',
    expected: 'PEER_ERROR MessageBeforeStatusError (ERR_ETH_MESSAGE_BEFORE_STATUS); connection closed',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PEER_ERROR, o.id)
        o.send(EthCode.GetBlockHeaders, [Uint8Array.of(1), [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(0), new Uint8Array(0)]])
        expectTypedError(await reported, MessageBeforeStatusError, 'ERR_ETH_MESSAGE_BEFORE_STATUS')
        await waitUntil(o.conn, ['close'], () => o.conn.status === 'closed', 'offender disconnected')
      }),
  },
  {
    case: 'Status sent twice',
    expected: 'PROTOCOL_ERROR DuplicateStatusError (ERR_ETH_DUPLICATE_STATUS)',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.Status, encodeStatus(o.status))
        o.send(EthCode.Status, encodeStatus(o.status))
        expectTypedError(await reported, DuplicateStatusError, 'ERR_ETH_DUPLICATE_STATUS')
      }),
  },
  {
    case: 'unsolicited BlockHeaders (reqId never asked for)',
    expected: 'PROTOCOL_ERROR UnexpectedResponseError (ERR_ETH_UNEXPECTED_RESPONSE)',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.Status, encodeStatus(o.status))
        o.send(EthCode.BlockHeaders, [Uint8Array.of(0x30, 0x39), []])
        expectTypedError(await reported, UnexpectedResponseError, 'ERR_ETH_UNEXPECTED_RESPONSE')
      }),
  },
  {
    case: 'undecodable GetBlockHeaders after the handshake',
    expected: 'PROTOCOL_ERROR EthCodecError (ERR_ETH_DECODE)',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.Status, encodeStatus(o.status))
        o.send(EthCode.GetBlockHeaders, [Uint8Array.of(1), [hash(1), Uint8Array.of(0, 1), new Uint8Array(0), Uint8Array.of(7)]])
        expectTypedError(await reported, EthCodecError, 'ERR_ETH_DECODE')
      }),
  },
  {
    case: 'GetBlockHeaders for 10^9 headers',
    expected: `answered with at most MAX_HEADERS_SERVE (${MAX_HEADERS_SERVE}) headers — here the 9 the chain has — and no error`,
    run: () =>
      against(async (o) => {
        o.send(EthCode.Status, encodeStatus(o.status))
        o.send(EthCode.GetBlockHeaders, [Uint8Array.of(42), [new Uint8Array(0), Uint8Array.of(0x3b, 0x9a, 0xca, 0x00), new Uint8Array(0), new Uint8Array(0)]])
        let reply: { code: number; payload: Uint8Array } | undefined
        while ((reply = await o.next()) !== undefined && reply.code !== EthCode.BlockHeaders) {
          // skip announcements
        }
        expect(reply?.code).toBe(EthCode.BlockHeaders)
        const [reqId, headers] = RLP.decode(reply!.payload) as [Uint8Array, Uint8Array[]]
        expect(Buffer.from(reqId).toString('hex')).toBe('2a')
        expect(headers.length).toBe(9)
      }),
  },
  {
    case: 'length prefix announcing an ETH message of 10 MiB + 1, once the session runs',
    expected: 'PROTOCOL_ERROR EthMessageTooLargeError (ERR_ETH_MESSAGE_TOO_LARGE) before the payload is read; the eth stream is closed',
    run: () =>
      against(async (o) => {
        o.send(EthCode.Status, encodeStatus(o.status))
        await roundTrip(o) // B's session is up and idle
        const reported = errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.stream.write(encodeUvarint(10 * 1024 * 1024 + 1))
        expectTypedError(await reported, EthMessageTooLargeError, 'ERR_ETH_MESSAGE_TOO_LARGE')
        await waitUntil(o.stream, ['close', 'end'], () => o.stream.destroyed || o.stream.readableEnded, 'eth stream closed by B')
      }),
  },
  {
    case: 'Status and, in the same packet, a length prefix of 10 MiB + 1',
    expected: 'the same PROTOCOL_ERROR EthMessageTooLargeError (ERR_ETH_MESSAGE_TOO_LARGE): an error right behind the Status is reported too, not dropped',
    run: () =>
      against(async (o) => {
        const reported = errorFrom(Event.PROTOCOL_ERROR, o.id)
        o.send(EthCode.Status, encodeStatus(o.status))
        o.stream.write(encodeUvarint(10 * 1024 * 1024 + 1))
        expectTypedError(await reported, EthMessageTooLargeError, 'ERR_ETH_MESSAGE_TOO_LARGE')
      }),
  },
])
