import { type Socket, connect } from 'node:net'
import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'
import { afterAll, beforeAll, expect } from 'vitest'

import { EthCode, type EthMessages, encodeEthPayload } from '../../src/client/net/protocol/ethmessages'
import { NoSharedVersionError } from '../../src/client/net/protocol/errors'
import { Event } from '../../src/client/types'
import { type Connection, type InboundUpgradeError, PeerDeniedError, RlpxHandshakeFailedError, encodeUvarint } from '../../src/p2p'
import { secureOutbound } from '../../src/p2p/crypto'
import {
  DisconnectReason,
  HELLO_MSG,
  PING_MSG,
  type RlpxError,
  RlpxMessageTooLargeError,
  RlpxNoSharedCapabilityError,
  RlpxPingFloodError,
  RlpxSnappyError,
  RlpxUnexpectedMessageError,
  RlpxUnknownMessageIdError,
  describeDisconnectReason,
} from '../../src/p2p/rlpx'
import { waitForEvent } from '../../src/p2p/util/events'
import { enodeId, enodeTcpPort } from '../client/helpers/nodes'
import { type RawEthSession, rawRlpxSession } from '../client/helpers/raw-peers'
import { makeChain, testCommon } from '../client/net/p2p/helpers'
import { type P2PNode, startP2PNode } from '../client/net/p2p/nodes'
import { RawPeer, nodeKey } from '../p2p/rlpx/helpers'
import { within } from '../utils/sockets'
import { badInputTable, expectTypedError } from './table'

/**
 * Hostile RLPx peers against a running P2PServer (the stack's RlpxMuxer
 * behind its Upgrader, the client above): each completes the ECIES
 * handshake over TCP and then breaks the base protocol. Each case asserts
 * the typed error the connection ends with, the Disconnect reason the peer
 * received, and what the node reports; an honest devp2p session opened
 * before all of them is still served after each. (The Hello-id cases are
 * in identity.bad-input.test.ts; the unanswered-Ping bound, 15 s + 10 s at
 * the node's defaults, in rlpx.bad-input.test.ts with short timers.)
 */

const BLOCKS = 3
let node: P2PNode
let honest: RawEthSession
let nextReqId = 100n

beforeAll(async () => {
  node = await startP2PNode({ chain: await makeChain(BLOCKS) })
  honest = await rawRlpxSession(node.url, 68, testCommon())
  honest.sendAll(node.protocol.createStatus(68), [])
  await expectHonestServed()
}, 60_000)

afterAll(async () => {
  await honest?.close()
  await node?.stop()
})

/** The honest session asks for headers and gets them. */
async function expectHonestServed(): Promise<void> {
  const reqId = nextReqId++
  honest.send([[EthCode.GetBlockHeaders, encodeEthPayload('GetBlockHeaders', { reqId, block: 0n, max: BLOCKS + 1, skip: 0, reverse: false }, { version: 68, common: testCommon() })]])
  const reply = (await honest.next(EthCode.BlockHeaders)).data as EthMessages['BlockHeaders']
  expect(reply.reqId).toBe(reqId)
  expect(reply.headers).toHaveLength(BLOCKS + 1)
  expect(honest.open).toBe(true)
}

interface Outcome {
  raw: RawPeer
  /** The RlpxError that ended the connection: the Connection's close reason, or the failed upgrade's cause. */
  err: RlpxError
  /** What CONNECTION_CLOSED said, when the connection had been upgraded. */
  closedText?: string
}

/** A raw RLPx peer dialing the node: ECIES with its own key, then `drive`. Resolves once the node has ended the connection. */
async function hostile(drive: (raw: RawPeer, id: Uint8Array) => Promise<void> | void): Promise<Outcome> {
  const key = nodeKey()
  const listener = node.server.listener!
  const ours = (remoteId: Uint8Array | undefined): boolean => remoteId !== undefined && bytesToUnprefixedHex(remoteId) === bytesToUnprefixedHex(key.id)
  let detach = (): void => {}
  const ended = new Promise<{ err: RlpxError; closedText?: string }>((resolve) => {
    const onConnection = (conn: Connection): void => {
      if (!ours(conn.remoteId)) return
      const closed = node.config.events.waitFor(Event.CONNECTION_CLOSED, { timeoutMs: 20_000, filter: (info) => info.id === conn.id })
      conn.once('close', (err?: Error) => void closed.then(([, text]) => resolve({ err: err as RlpxError, closedText: text })))
    }
    const onError = (e: InboundUpgradeError): void => {
      if (!ours(e.remoteId) || !(e.cause instanceof RlpxHandshakeFailedError)) return
      resolve({ err: e.cause.cause })
    }
    listener.on('connection', onConnection)
    listener.on('error', onError)
    detach = () => {
      listener.off('connection', onConnection)
      listener.off('error', onError)
    }
  })
  const { socket, raw } = await secureDial(key)
  try {
    await drive(raw, key.id)
    const result = await within(ended, 'the node to end the connection')
    await within(raw.closed(), 'the connection to close')
    return { raw, ...result }
  } finally {
    detach()
    socket.destroy()
  }
}

/** TCP to the node and the ECIES handshake with `key`: a raw RLPx peer, nothing sent yet. */
async function secureDial(key: { privateKey: Uint8Array }): Promise<{ socket: Socket; raw: RawPeer }> {
  const socket = connect(enodeTcpPort(node.url), '127.0.0.1')
  socket.on('error', () => {})
  await waitForEvent(socket, 'connect', { timeoutMs: 20_000 })
  const secured = await secureOutbound(socket, { privateKey: key.privateKey, remoteId: hexToBytes(`0x${enodeId(node.url)}`) })
  return { socket, raw: new RawPeer(secured.stream) }
}

/** Hello (v5, eth/68), and the node's Hello read: the session is open and compressed. */
async function openSession(raw: RawPeer, id: Uint8Array): Promise<void> {
  raw.sendHello({ id })
  await within(raw.waitFor(HELLO_MSG), "the node's Hello")
  raw.compressed = true
}

type ErrorClass = abstract new (...args: never[]) => RlpxError

async function expectEnded(o: Outcome, type: ErrorClass, code: string, reason: DisconnectReason): Promise<void> {
  expect(expectTypedError(o.err, type, code).reason).toBe(reason)
  expect(await o.raw.disconnectReason()).toBe(reason)
  if (o.closedText !== undefined) expect(o.closedText).toContain(describeDisconnectReason(reason))
  await expectHonestServed()
}

const ends = (type: string, code: string, reason: string): string => `${type} (${code}), Disconnect ${reason} to the peer, connection closed; an honest RLPx session is still served`

badInputTable('node', 'hostile RLPx peers against a P2PServer', [
  {
    case: 'a Ping before Hello (an RLPx-shaped first frame that is not a Hello)',
    expected: ends('RlpxUnexpectedMessageError', 'ERR_RLPX_UNEXPECTED_MESSAGE', 'PROTOCOL_ERROR') + '; the upgrade fails (RlpxHandshakeFailedError)',
    run: async () => {
      const o = await hostile((raw) => raw.send(PING_MSG, RLP.encode([]), false))
      await expectEnded(o, RlpxUnexpectedMessageError, 'ERR_RLPX_UNEXPECTED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'a second Hello',
    expected: ends('RlpxUnexpectedMessageError', 'ERR_RLPX_UNEXPECTED_MESSAGE', 'PROTOCOL_ERROR') + ', CONNECTION_CLOSED names the reason',
    run: async () => {
      const o = await hostile(async (raw, id) => {
        await openSession(raw, id)
        raw.sendHello({ id })
      })
      await expectEnded(o, RlpxUnexpectedMessageError, 'ERR_RLPX_UNEXPECTED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'a Hello sharing no capability (eth/63, les/4)',
    expected: ends('RlpxNoSharedCapabilityError', 'ERR_RLPX_NO_SHARED_CAPABILITY', 'USELESS_PEER') + '; PEER_ERROR NoSharedVersionError under its key, banned',
    run: async () => {
      let remote = ''
      const reported = node.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: 20_000, filter: (_e, p) => p.id === remote })
      const o = await hostile((raw, id) => {
        remote = bytesToUnprefixedHex(id)
        raw.sendHello({ id, capabilities: [{ name: 'eth', version: 63 }, { name: 'les', version: 4 }] })
        // Both Hellos say p2p v5: the node's Disconnect after them is compressed.
        raw.compressed = true
      })
      await expectEnded(o, RlpxNoSharedCapabilityError, 'ERR_RLPX_NO_SHARED_CAPABILITY', DisconnectReason.USELESS_PEER)
      const [err] = await reported
      expect(err).toBeInstanceOf(NoSharedVersionError)
      expect((err as NoSharedVersionError).theirs).toEqual([63])
      expect(node.server.isBanned(remote)).toBe(true)
    },
  },
  {
    case: 'a snappy length header announcing 10 MiB for an eth message (limit 10 MiB incl. code)',
    expected: ends('RlpxMessageTooLargeError', 'ERR_RLPX_MESSAGE_TOO_LARGE', 'PROTOCOL_ERROR') + ', nothing decompressed',
    run: async () => {
      const o = await hostile(async (raw, id) => {
        await openSession(raw, id)
        raw.send(0x12, encodeUvarint(10 * 1024 * 1024), false)
      })
      await expectEnded(o, RlpxMessageTooLargeError, 'ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'malformed snappy (announces 100 bytes, carries a 4-byte literal)',
    expected: ends('RlpxSnappyError', 'ERR_RLPX_SNAPPY_CORRUPT', 'PROTOCOL_ERROR'),
    run: async () => {
      const o = await hostile(async (raw, id) => {
        await openSession(raw, id)
        raw.send(0x12, Uint8Array.of(100, 0x0c, 1, 2, 3, 4), false)
      })
      await expectEnded(o, RlpxSnappyError, 'ERR_RLPX_SNAPPY_CORRUPT', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'message id 0x21, outside eth/68 (0x10–0x20)',
    expected: ends('RlpxUnknownMessageIdError', 'ERR_RLPX_UNKNOWN_MESSAGE_ID', 'PROTOCOL_ERROR'),
    run: async () => {
      const o = await hostile(async (raw, id) => {
        await openSession(raw, id)
        raw.send(0x21, RLP.encode([]))
      })
      await expectEnded(o, RlpxUnknownMessageIdError, 'ERR_RLPX_UNKNOWN_MESSAGE_ID', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'a Ping flood: 100 Pings at once (limit 20 per 15 s window)',
    expected: ends('RlpxPingFloodError', 'ERR_RLPX_PING_FLOOD', 'PROTOCOL_ERROR'),
    run: async () => {
      const o = await hostile(async (raw, id) => {
        await openSession(raw, id)
        for (let i = 0; i < 100; i++) raw.send(PING_MSG, RLP.encode([]))
      })
      await expectEnded(o, RlpxPingFloodError, 'ERR_RLPX_PING_FLOOD', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'a banned node dials in again and sends its Hello',
    expected: 'PeerDeniedError (ERR_UPGRADE_PEER_DENIED) at the listener; Disconnect USELESS_PEER to the peer, uncompressed and before any Hello of ours, as geth; connection closed; an honest RLPx session is still served',
    run: async () => {
      const key = nodeKey()
      const remote = bytesToUnprefixedHex(key.id)
      node.server.ban(remote)
      const listener = node.server.listener!
      let onError = (_e: InboundUpgradeError): void => {}
      const denied = new Promise<PeerDeniedError>((resolve) => {
        onError = (e) => {
          if (e.cause instanceof PeerDeniedError && e.remoteId !== undefined && bytesToUnprefixedHex(e.remoteId) === remote) resolve(e.cause)
        }
        listener.on('error', onError)
      })
      const { socket, raw } = await secureDial(key)
      try {
        raw.sendHello({ id: key.id })
        const err = await within(denied, 'the listener to refuse the banned node')
        expect(expectTypedError(err, PeerDeniedError, 'ERR_UPGRADE_PEER_DENIED').reason).toBe(DisconnectReason.USELESS_PEER)
        expect(await within(raw.disconnectReason(), 'the Disconnect')).toBe(DisconnectReason.USELESS_PEER)
        expect(raw.received.some((m) => m.id === HELLO_MSG)).toBe(false)
        await within(raw.closed(), 'the connection to close')
        await expectHonestServed()
      } finally {
        listener.off('error', onError)
        socket.destroy()
      }
    },
  },
])


