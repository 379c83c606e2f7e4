import net, { type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import * as secp from '@noble/secp256k1'
import { expect } from 'vitest'
import {
  type Connection,
  encodeFrame,
  InboundUpgradeError,
  MPLEX_PROTOCOL_ID,
  MplexFlag,
  MplexInvalidFlagError,
  mssSelect,
  P2PError,
  ProtocolNotSupportedError,
  secureOutbound,
  type TransportListener,
  UpgradeError,
} from '../../src/p2p/index'
import { waitUntil, within } from '../utils/sockets'
import { causeWithCode, CHECKED_ECHO, closeReasonOf, EchoClient, EchoLedger, listenOn, serveCheckedEcho, stackNode, type StackNode } from './stack-fixture'
import { badInputTable, expectRejectsTyped, expectTypedError } from './table'

/**
 * Bad input against a real listening node (B) while a good peer (A) is
 * connected to it: each case checks the typed outcome for the offender, then
 * that A's existing session still echoes and that a new good dial succeeds.
 */

interface Node {
  b: StackNode
  listener: TransportListener
  inbound: Connection[]
  /** Errors the listener emitted (failed inbound upgrades). */
  errors: Error[]
  good: { a: StackNode; conn: Connection; echo: EchoClient }
  close(): Promise<void>
}

async function nodeWithGoodPeer(opts: { streamNegotiationTimeoutMs?: number } = {}): Promise<Node> {
  const b = stackNode(opts)
  serveCheckedEcho(b, new EchoLedger())
  const { listener, inbound, errors } = await listenOn(b)
  const a = stackNode()
  const conn = await a.transport.dial(listener.address(), { remoteId: b.id })
  const echo = new EchoClient(await conn.newStream(CHECKED_ECHO))
  await echo.roundTrip()
  return {
    b,
    listener,
    inbound,
    errors,
    good: { a, conn, echo },
    async close() {
      conn.abort(new Error('test over'))
      await listener.close()
    },
  }
}

/** The good peer's session still works, and a fresh good peer can connect and be served. */
async function expectStillServing(n: Node): Promise<void> {
  await n.good.echo.roundTrip(3000)
  const fresh = stackNode()
  const conn = await fresh.transport.dial(n.listener.address(), { remoteId: n.b.id })
  try {
    await new EchoClient(await conn.newStream(CHECKED_ECHO)).roundTrip(100)
  } finally {
    conn.abort(new Error('check done'))
  }
}

/** The next listener error, once the listener reported it. */
async function nextListenerError(n: Node, before: number): Promise<Error> {
  await waitUntil(n.listener, ['error'], () => n.errors.length > before, 'a listener error')
  return n.errors[before]!
}

function rawSocket(n: Node): Promise<Socket> {
  const { host, port } = n.listener.address()
  return within(
    new Promise<Socket>((resolve, reject) => {
      const s = net.connect({ host, port })
      s.once('connect', () => resolve(s))
      s.once('error', reject)
    }),
    'raw TCP connect',
  )
}

/** A secured channel to B that speaks mplex by hand (the muxer negotiated, nothing more). */
async function rawMplex(n: Node): Promise<{ channel: Duplex; socket: Socket }> {
  const socket = await rawSocket(n)
  const { stream } = await secureOutbound(socket, { privateKey: secp.utils.randomSecretKey(), remoteId: n.b.id })
  const { stream: channel } = await mssSelect(stream, MPLEX_PROTOCOL_ID)
  channel.on('error', () => {}) // B ends it; what B does is what the case checks
  return { channel, socket }
}

async function withNode(run: (n: Node) => Promise<void>, opts?: { streamNegotiationTimeoutMs?: number }): Promise<void> {
  const n = await nodeWithGoodPeer(opts)
  try {
    await run(n)
    await expectStillServing(n)
  } finally {
    await n.close()
  }
}

badInputTable('tcp', 'raw sockets against a listening node (a good peer stays connected)', [
  {
    case: 'connect and close at once',
    expected: 'listener reports InboundUpgradeError (ERR_TRANSPORT_INBOUND_UPGRADE_FAILED); the good peer and new peers are served',
    run: () =>
      withNode(async (n) => {
        const before = n.errors.length
        ;(await rawSocket(n)).destroy()
        expectTypedError(await nextListenerError(n, before), InboundUpgradeError, 'ERR_TRANSPORT_INBOUND_UPGRADE_FAILED')
      }),
  },
  {
    case: '64 KiB of random bytes',
    expected: 'InboundUpgradeError caused by an ECIES error; the socket is closed; the good peer and new peers are served',
    run: () =>
      withNode(async (n) => {
        const before = n.errors.length
        const s = await rawSocket(n)
        s.on('error', () => {})
        const junk = randomBytes(64 * 1024)
        junk[0] = 0x01 // a plausible EIP-8 size prefix: the bytes are read as an auth and tried
        s.write(junk)
        const err = expectTypedError(await nextListenerError(n, before), InboundUpgradeError, 'ERR_TRANSPORT_INBOUND_UPGRADE_FAILED')
        expect(causeWithCode(err, 'ERR_ECIES_DECRYPT') ?? causeWithCode(err, 'ERR_ECIES_INVALID_HANDSHAKE'), String(err)).toBeDefined()
        await waitUntil(s, ['close'], () => s.destroyed, 'socket closed by B')
      }),
  },
])

badInputTable('stack', 'upgraded connections misbehaving (a good peer stays connected)', [
  {
    case: 'dial with the wrong remote id (auth addressed to another node)',
    expected: 'dialer gets an UpgradeError; B reports an InboundUpgradeError caused by DecryptError (ERR_ECIES_DECRYPT)',
    run: () =>
      withNode(async (n) => {
        const before = n.errors.length
        const other = stackNode()
        const err = await within(
          stackNode().transport.dial(n.listener.address(), { remoteId: other.id }).then(
            () => new Error('dial succeeded'),
            (e: unknown) => e as Error,
          ),
          'the dial to fail',
        )
        expect(err, String(err)).toBeInstanceOf(UpgradeError)
        const reported = await nextListenerError(n, before)
        expect(causeWithCode(reported, 'ERR_ECIES_DECRYPT'), String(reported)).toBeDefined()
      }),
  },
  {
    case: 'secure channel established, then garbage instead of multistream-select',
    expected: 'B fails the upgrade with a typed UpgradeError cause (muxer negotiation / legacy RLPx) and closes the socket',
    run: () =>
      withNode(async (n) => {
        const before = n.errors.length
        const socket = await rawSocket(n)
        socket.on('error', () => {})
        const { stream } = await secureOutbound(socket, { privateKey: secp.utils.randomSecretKey(), remoteId: n.b.id })
        stream.on('error', () => {})
        stream.write(randomBytes(200).fill(0x80, 0, 12))
        const reported = await nextListenerError(n, before)
        expect(reported).toBeInstanceOf(InboundUpgradeError)
        expect((reported as P2PError).cause).toBeInstanceOf(UpgradeError)
        await waitUntil(socket, ['close'], () => socket.destroyed, 'socket closed by B')
      }),
  },
  {
    case: 'stream proposing an unknown protocol',
    expected: 'newStream rejects with ProtocolNotSupportedError (ERR_CONNECTION_PROTOCOL_NOT_SUPPORTED); the connection keeps serving',
    run: () =>
      withNode(async (n) => {
        await expectRejectsTyped(n.good.conn.newStream('/nobody/1.0.0'), ProtocolNotSupportedError, 'ERR_CONNECTION_PROTOCOL_NOT_SUPPORTED')
        expect(n.good.conn.status).toBe('open')
      }),
  },
  {
    case: 'stream opened but never negotiated (slow loris)',
    expected: 'B resets the stream at its negotiation deadline; the connection keeps serving',
    run: () =>
      withNode(
        async (n) => {
          const { channel, socket } = await rawMplex(n)
          const frames: string[] = []
          channel.on('data', (c: Buffer) => frames.push(c.toString('hex')))
          channel.write(encodeFrame(0, MplexFlag.NewStream, Buffer.from('0')))
          // B answers with ResetReceiver (flag 5) for stream 0: header byte 0x05, length 0.
          await waitUntil(channel, ['data'], () => frames.join('').includes('0500'), 'reset of the silent stream')
          socket.destroy()
        },
        { streamNegotiationTimeoutMs: 100 },
      ),
  },
  {
    case: 'mplex frame with flag 7 on an upgraded connection',
    expected: "B's connection closes with MplexInvalidFlagError (ERR_MPLEX_INVALID_FLAG); other connections are unaffected",
    run: () =>
      withNode(async (n) => {
        const known = n.inbound.length
        const { channel, socket } = await rawMplex(n)
        await waitUntil(n.listener, ['connection'], () => n.inbound.length > known, "B's side of the raw connection")
        const victim = n.inbound[known]!
        channel.write(encodeFrame(3, 7, Buffer.from('x')))
        expectTypedError(await closeReasonOf(victim), MplexInvalidFlagError, 'ERR_MPLEX_INVALID_FLAG')
        socket.destroy()
      }),
  },
])
