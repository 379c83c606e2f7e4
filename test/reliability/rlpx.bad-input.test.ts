import { RLP } from '@ethereumjs/rlp'
import { afterAll, beforeAll, expect } from 'vitest'
import { encodeUvarint } from '../../src/p2p/codec'
import { FrameTooLargeError } from '../../src/p2p/crypto'
import {
  DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK,
  DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE,
  DisconnectReason,
  HELLO_MSG,
  MAX_BASE_PROTOCOL_MESSAGE_SIZE,
  PING_MSG,
  PONG_MSG,
  RlpxConnectionLostError,
  RlpxError,
  RlpxHelloTimeoutError,
  RlpxInvalidIdentityError,
  RlpxMalformedMessageError,
  RlpxMessageTooLargeError,
  type RlpxMuxer,
  RlpxNoSharedCapabilityError,
  RlpxPingFloodError,
  RlpxPingTimeoutError,
  RlpxSnappyError,
  RlpxUnexpectedIdentityError,
  RlpxUnexpectedMessageError,
  RlpxUnknownMessageIdError,
  describeDisconnectReason,
  encodeHello,
} from '../../src/p2p/rlpx'
import { readMessages, writeMessage } from '../../src/p2p/codec'
import { ETH68, RawPeer, type SessionOptions, closeOf, nodeKey, rawAgainstSession, sessionPair } from '../p2p/rlpx/helpers'
import { within } from '../utils/sockets'
import { badInputTable, expectTypedError } from './table'

/**
 * Hostile RLPx peers against one RlpxMuxer: a hand-driven peer (RawPeer)
 * completes the ECIES handshake, then sends what each case says. Every case
 * asserts the typed error the session ends with, the Disconnect reason it
 * carries and that the peer received, and that the connection is closed. A
 * healthy session open beside all of them still works at the end.
 */

type ErrorClass = abstract new (...args: never[]) => RlpxError

interface Outcome {
  raw: RawPeer
  err: unknown
}

/**
 * Runs one hostile peer: `drive` gets the raw peer, its key, and the
 * handshake (to await when the case needs an open session first). Resolves
 * with the error the session ended with, once the connection is closed.
 */
async function hostile(
  opts: SessionOptions,
  drive: (raw: RawPeer, id: Uint8Array, handshake: Promise<RlpxMuxer>) => void | Promise<void>,
): Promise<Outcome> {
  const { raw, handshake, channel, keys, close } = await rawAgainstSession(opts)
  const channelClosed = new Promise<void>((resolve) => (channel.destroyed ? resolve() : channel.once('close', () => resolve())))
  try {
    await drive(raw, keys.raw.id, handshake)
    const err = await within(
      handshake.then(
        (session) => closeOf(session),
        (e: unknown) => e,
      ),
      'the session to end',
    )
    await within(Promise.all([raw.closed(), channelClosed]), 'the connection to close')
    expect(raw.ended, 'the session ended the connection').toBe(true)
    return { raw, err }
  } finally {
    await close()
  }
}

/** The case's assertions: error type and code, its reason, the Disconnect the peer got. */
async function expectEnded(outcome: Outcome, type: ErrorClass, code: string, reason: DisconnectReason): Promise<void> {
  const err = expectTypedError(outcome.err, type, code)
  expect(err.reason, describeDisconnectReason(err.reason)).toBe(reason)
  expect(await within(outcome.raw.disconnectReason(), 'Disconnect at the peer')).toBe(reason)
}

/** A Hello of the raw peer, then the session's open (the peer decompresses from here on). */
async function openSession(raw: RawPeer, id: Uint8Array, handshake: Promise<RlpxMuxer>): Promise<RlpxMuxer> {
  raw.sendHello({ id })
  raw.compressed = true
  return within(handshake, 'handshake')
}

const expected = (err: string, code: string, reason: keyof typeof DisconnectReason): string =>
  `${err} (${code}), Disconnect ${reason} (0x${DisconnectReason[reason].toString(16).padStart(2, '0')}), connection closed`

let bystander: Awaited<ReturnType<typeof sessionPair>>
beforeAll(async () => {
  bystander = await sessionPair()
})
afterAll(async () => {
  // Every hostile session above has ended; this one must be untouched.
  const [inbound] = await new Promise<Parameters<Parameters<RlpxMuxer['start']>[0] & object>>((resolve) => bystander.listener.start((s) => resolve([s])))
  const out = bystander.dialer.openStream('/eth/68/1.0.0')
  writeMessage(out, [Uint8Array.of(0x02), RLP.encode([[1, 2, 3]])])
  for await (const msg of readMessages(inbound)) {
    expect(msg[0]).toBe(0x02)
    break
  }
  expect(bystander.dialer.status).toBe('open')
  await bystander.close()
})

badInputTable('rlpx', 'Hello', [
  {
    case: 'Hello node id differs from the ECIES-authenticated key',
    expected: expected('RlpxUnexpectedIdentityError', 'ERR_RLPX_UNEXPECTED_IDENTITY', 'UNEXPECTED_IDENTITY'),
    run: async () => {
      const outcome = await hostile({}, (raw) => {
        raw.sendHello({ id: nodeKey().id })
        raw.compressed = true
      })
      await expectEnded(outcome, RlpxUnexpectedIdentityError, 'ERR_RLPX_UNEXPECTED_IDENTITY', DisconnectReason.UNEXPECTED_IDENTITY)
    },
  },
  {
    case: 'Hello node id of 63 bytes / all zero',
    expected: expected('RlpxInvalidIdentityError', 'ERR_RLPX_INVALID_IDENTITY', 'INVALID_IDENTITY'),
    run: async () => {
      for (const id of [new Uint8Array(63).fill(1), new Uint8Array(64)]) {
        const outcome = await hostile({}, (raw) => raw.sendHello({ id }))
        await expectEnded(outcome, RlpxInvalidIdentityError, 'ERR_RLPX_INVALID_IDENTITY', DisconnectReason.INVALID_IDENTITY)
      }
    },
  },
  {
    case: 'a second Hello',
    expected: expected('RlpxUnexpectedMessageError', 'ERR_RLPX_UNEXPECTED_MESSAGE', 'PROTOCOL_ERROR'),
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        raw.sendHello({ id })
      })
      await expectEnded(outcome, RlpxUnexpectedMessageError, 'ERR_RLPX_UNEXPECTED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'a message before Hello (Ping; an eth Status)',
    expected: expected('RlpxUnexpectedMessageError', 'ERR_RLPX_UNEXPECTED_MESSAGE', 'PROTOCOL_ERROR'),
    run: async () => {
      for (const [id, payload] of [[PING_MSG, RLP.encode([])], [0x10, RLP.encode([68, 1])]] as const) {
        const outcome = await hostile({}, (raw) => raw.send(id, payload, false))
        await expectEnded(outcome, RlpxUnexpectedMessageError, 'ERR_RLPX_UNEXPECTED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
      }
    },
  },
  {
    case: 'no shared capability (remote runs eth/63 and les/4)',
    expected: expected('RlpxNoSharedCapabilityError', 'ERR_RLPX_NO_SHARED_CAPABILITY', 'USELESS_PEER'),
    run: async () => {
      const outcome = await hostile({ capabilities: [ETH68] }, (raw, id) => {
        raw.sendHello({ id, capabilities: [{ name: 'eth', version: 63 }, { name: 'les', version: 4 }, { name: 'ETH', version: 68 }] })
        raw.compressed = true
      })
      await expectEnded(outcome, RlpxNoSharedCapabilityError, 'ERR_RLPX_NO_SHARED_CAPABILITY', DisconnectReason.USELESS_PEER)
    },
  },
  {
    case: `Hello larger than ${MAX_BASE_PROTOCOL_MESSAGE_SIZE} bytes`,
    expected: expected('RlpxMessageTooLargeError', 'ERR_RLPX_MESSAGE_TOO_LARGE', 'PROTOCOL_ERROR'),
    run: async () => {
      const outcome = await hostile({}, (raw, id) =>
        raw.send(HELLO_MSG, encodeHello({ protocolVersion: 5, clientId: 'x'.repeat(MAX_BASE_PROTOCOL_MESSAGE_SIZE), capabilities: [ETH68], listenPort: 0, nodeId: id }), false),
      )
      await expectEnded(outcome, RlpxMessageTooLargeError, 'ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'Hello that is not RLP / a list of 3 items / capabilities not a list',
    expected: expected('RlpxMalformedMessageError', 'ERR_RLPX_MALFORMED_MESSAGE', 'PROTOCOL_ERROR'),
    run: async () => {
      const bad = (id: Uint8Array): Uint8Array[] => [Uint8Array.of(0xf8, 0xff, 1), RLP.encode([5, 'x', []]), RLP.encode([5, 'x', 'eth', 0, id])]
      for (let i = 0; i < 3; i++) {
        const outcome = await hostile({}, (raw, id) => raw.send(HELLO_MSG, bad(id)[i]!, false))
        await expectEnded(outcome, RlpxMalformedMessageError, 'ERR_RLPX_MALFORMED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
      }
    },
  },
  {
    case: 'no Hello at all (helloTimeoutMs 50)',
    expected: expected('RlpxHelloTimeoutError', 'ERR_RLPX_HELLO_TIMEOUT', 'TIMEOUT'),
    run: async () => {
      const outcome = await hostile({ helloTimeoutMs: 50 }, () => {})
      await expectEnded(outcome, RlpxHelloTimeoutError, 'ERR_RLPX_HELLO_TIMEOUT', DisconnectReason.TIMEOUT)
      expect((outcome.err as RlpxHelloTimeoutError).timeoutMs).toBe(50)
    },
  },
])

badInputTable('rlpx', 'messages after Hello', [
  {
    case: `snappy length header announcing ${DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE} bytes for an eth message (limit 10 MiB incl. code)`,
    expected: expected('RlpxMessageTooLargeError', 'ERR_RLPX_MESSAGE_TOO_LARGE', 'PROTOCOL_ERROR') + ', nothing decompressed',
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        // The header alone: were it decompressed, the missing data would be a snappy error instead.
        raw.send(0x12, encodeUvarint(DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE), false)
      })
      await expectEnded(outcome, RlpxMessageTooLargeError, 'ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR)
      expect(outcome.err).toMatchObject({ size: DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE, limit: DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE - 1 })
    },
  },
  {
    case: 'snappy length header of 4 GiB on a Ping',
    expected: expected('RlpxMessageTooLargeError', 'ERR_RLPX_MESSAGE_TOO_LARGE', 'PROTOCOL_ERROR'),
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        raw.send(PING_MSG, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), false)
      })
      await expectEnded(outcome, RlpxMessageTooLargeError, 'ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR)
    },
  },
  {
    case: 'malformed snappy: shorter than its header, a copy reaching before the start, an unterminated header',
    expected: expected('RlpxSnappyError', 'ERR_RLPX_SNAPPY_CORRUPT', 'PROTOCOL_ERROR'),
    run: async () => {
      const streams = [
        Uint8Array.of(100, 0x0c, 1, 2, 3, 4), // announces 100, a 4-byte literal
        Uint8Array.of(20, 0x0c, 1, 2, 3, 4, 0x01 | (4 << 2), 9), // copy of 8 from offset 9 with 4 produced
        Uint8Array.of(0x80, 0x80),
      ]
      for (const data of streams) {
        const outcome = await hostile({}, async (raw, id, handshake) => {
          await openSession(raw, id, handshake)
          raw.send(0x12, data, false)
        })
        await expectEnded(outcome, RlpxSnappyError, 'ERR_RLPX_SNAPPY_CORRUPT', DisconnectReason.PROTOCOL_ERROR)
      }
    },
  },
  {
    case: 'message id 0x21, outside eth/68 (0x10–0x20) and every other capability',
    expected: expected('RlpxUnknownMessageIdError', 'ERR_RLPX_UNKNOWN_MESSAGE_ID', 'PROTOCOL_ERROR'),
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        raw.send(0x21, RLP.encode([]))
      })
      await expectEnded(outcome, RlpxUnknownMessageIdError, 'ERR_RLPX_UNKNOWN_MESSAGE_ID', DisconnectReason.PROTOCOL_ERROR)
      expect((outcome.err as RlpxUnknownMessageIdError).messageId).toBe(0x21)
    },
  },
  {
    case: 'message id encoded as 0x00 / as a 5-byte integer / an empty frame',
    expected: expected('RlpxMalformedMessageError', 'ERR_RLPX_MALFORMED_MESSAGE', 'PROTOCOL_ERROR'),
    run: async () => {
      for (const frame of [Uint8Array.of(0x00, 0xc0), Uint8Array.of(0x85, 1, 2, 3, 4, 5, 0xc0), new Uint8Array(0)]) {
        const outcome = await hostile({}, async (raw, id, handshake) => {
          await openSession(raw, id, handshake)
          raw.sendFrame(frame)
        })
        await expectEnded(outcome, RlpxMalformedMessageError, 'ERR_RLPX_MALFORMED_MESSAGE', DisconnectReason.PROTOCOL_ERROR)
      }
    },
  },
  {
    case: 'a frame announcing more than maxFrameSize (64 KiB here)',
    expected: 'RlpxConnectionLostError (ERR_RLPX_CONNECTION_LOST) caused by FrameTooLargeError, connection destroyed before the body is read (no Disconnect: the channel is unusable)',
    run: async () => {
      const { raw, handshake, channel, keys, close } = await rawAgainstSession({ maxFrameSize: 64 * 1024 })
      try {
        await openSession(raw, keys.raw.id, handshake)
        const session = await handshake
        raw.send(0x12, new Uint8Array(64 * 1024 + 1), false)
        const err = expectTypedError(await within(closeOf(session), 'session end'), RlpxConnectionLostError, 'ERR_RLPX_CONNECTION_LOST')
        expect(err.cause).toBeInstanceOf(FrameTooLargeError)
        expect(channel.destroyed).toBe(true)
      } finally {
        await close()
      }
    },
  },
  {
    case: 'an eth message of 10 MiB + 1 from a p2p v4 peer (uncompressed)',
    expected: expected('RlpxMessageTooLargeError', 'ERR_RLPX_MESSAGE_TOO_LARGE', 'PROTOCOL_ERROR'),
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        raw.sendHello({ id, protocolVersion: 4 })
        await within(handshake, 'handshake')
        raw.send(0x16, new Uint8Array(DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE), false)
      })
      await expectEnded(outcome, RlpxMessageTooLargeError, 'ERR_RLPX_MESSAGE_TOO_LARGE', DisconnectReason.PROTOCOL_ERROR)
    },
    timeoutMs: 30_000,
  },
])

badInputTable('rlpx', 'keep-alive', [
  {
    case: 'a Ping flood: 200 Pings at once (limit 20 per 15 s window)',
    expected: expected('RlpxPingFloodError', 'ERR_RLPX_PING_FLOOD', 'PROTOCOL_ERROR') + ', at most 20 Pongs sent',
    run: async () => {
      const outcome = await hostile({}, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        for (let i = 0; i < 200; i++) raw.send(PING_MSG, RLP.encode([]))
      })
      await expectEnded(outcome, RlpxPingFloodError, 'ERR_RLPX_PING_FLOOD', DisconnectReason.PROTOCOL_ERROR)
      expect(outcome.raw.received.filter((m) => m.id === PONG_MSG).length).toBe(20)
    },
  },
  {
    case: 'a peer that never answers Ping (pingIntervalMs 30, pongTimeoutMs 60)',
    expected: expected('RlpxPingTimeoutError', 'ERR_RLPX_PING_TIMEOUT', 'TIMEOUT') + ', within ping interval + pong timeout',
    run: async () => {
      let openedAt = 0
      const outcome = await hostile({ pingIntervalMs: 30, pongTimeoutMs: 60 }, async (raw, id, handshake) => {
        await openSession(raw, id, handshake)
        openedAt = performance.now()
      })
      const elapsed = performance.now() - openedAt
      await expectEnded(outcome, RlpxPingTimeoutError, 'ERR_RLPX_PING_TIMEOUT', DisconnectReason.TIMEOUT)
      expect(outcome.raw.received.some((m) => m.id === PING_MSG)).toBe(true)
      // The bound: the first Ping after 30 ms, its Pong due 60 ms later (slack for a loaded machine).
      expect(elapsed).toBeGreaterThanOrEqual(85)
      expect(elapsed).toBeLessThan(90 + 5_000)
    },
  },
  {
    case: 'a peer that stops reading while we send (stream over its high-water mark)',
    expected: 'the session pauses reading frames instead of buffering without bound; no error',
    run: async () => {
      const { raw, handshake, keys, close } = await rawAgainstSession({ streamHighWaterMark: DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK })
      try {
        const session = await openSession(raw, keys.raw.id, handshake)
        const paused = new Promise<void>((resolve) => session.once('pause', () => resolve()))
        const big = RLP.encode([new Uint8Array(DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK)])
        raw.send(0x12, big)
        raw.send(0x12, big)
        await within(paused, 'session paused')
        expect(session.readPaused).toBe(true)
        expect(session.status).toBe('open')
        session.abort(new Error('done'))
      } finally {
        await close()
      }
    },
  },
])
