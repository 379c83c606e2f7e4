import { expect } from 'vitest'
import {
  type Connection,
  FrameMacError,
  P2PError,
  StreamNegotiationTimeoutError,
  TimeoutError,
  TruncatedFrameError,
} from '../../src/p2p/index'
import { FaultProxy, type ProxyConnection, type ProxyDirection } from '../utils/fault-proxy'
import { waitUntil, within } from '../utils/sockets'
import {
  causeWithCode,
  CHECKED_ECHO,
  closeReasonOf,
  EchoClient,
  EchoLedger,
  listenOn,
  serveCheckedEcho,
  stackNode,
  type StackNode,
} from './stack-fixture'
import { badInputTable, expectTypedError } from './table'

/**
 * Faults injected between two real stacks (TCP + ECIES + multistream-select +
 * mplex) by the fault proxy: byte flips, cuts, blackholes, delay and throttle.
 * Every connection dials the proxy, which forwards to B's listener.
 */

interface Session {
  a: StackNode
  b: StackNode
  ledger: EchoLedger
  proxy: FaultProxy
  /** A's connection (through the proxy) and B's end of it. */
  out: Connection
  inb: Connection
  wire: ProxyConnection
  echo: EchoClient
  close(): Promise<void>
}

async function session(): Promise<Session> {
  const a = stackNode()
  const b = stackNode()
  const ledger = new EchoLedger()
  serveCheckedEcho(b, ledger)
  const { listener, inbound } = await listenOn(b)
  const proxy = await FaultProxy.start({ target: listener.address() })
  const out = await a.transport.dial(proxy.address(), { remoteId: b.id })
  await waitUntil(listener, ['connection'], () => inbound.length > 0, "B's inbound connection")
  const stream = await out.newStream(CHECKED_ECHO)
  const echo = new EchoClient(stream)
  await echo.roundTrip() // the path works before any fault
  return {
    a,
    b,
    ledger,
    proxy,
    out,
    inb: inbound[0]!,
    wire: proxy.connections[0]!,
    echo,
    async close() {
      out.abort(new Error('test over'))
      await proxy.close()
      await listener.close()
    },
  }
}

/** Offset `ahead` bytes past what the proxy has seen so far in `dir`: inside the next RLPx frame. */
function ahead(s: Session, dir: ProxyDirection, bytes: number): number {
  return s.wire.stats(dir).received + bytes
}

/**
 * An in-flight round trip must fail with a typed P2P error that is not a
 * timeout. Call it at once on the promise (it attaches the rejection handler).
 */
async function expectFailsFast(roundTrip: Promise<unknown>): Promise<Error> {
  const err = await within(
    roundTrip.then(
      () => {
        throw new Error('the round trip succeeded through the fault')
      },
      (e: unknown) => e as Error,
    ),
    'the in-flight round trip to fail',
  )
  expect(err, `untyped failure: ${String(err)}`).toBeInstanceOf(P2PError)
  expect(typeof (err as P2PError).code).toBe('string')
  expect(err).not.toBeInstanceOf(TimeoutError)
  return err
}

badInputTable('faults', 'real stack through the fault proxy', [
  {
    case: 'one byte flipped A→B after the handshake',
    expected: "B's connection closes with FrameMacError (ERR_ECIES_BAD_MAC); the handler never sees the message; A's in-flight request fails with a typed error",
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('up', { flip: { offset: ahead(s, 'up', 40), mask: 0x01 } })
        const failure = expectFailsFast(s.echo.roundTrip(2000))
        expectTypedError(await closeReasonOf(s.inb), FrameMacError, 'ERR_ECIES_BAD_MAC')
        await failure
        expect(s.ledger.intact).toBe(1) // only the round trip before the fault
        expect(s.ledger.corrupt).toBe(0)
        expect(s.out.status).not.toBe('open')
      } finally {
        await s.close()
      }
    },
  },
  {
    case: 'one byte flipped B→A in a reply',
    expected: "A's connection closes with FrameMacError (ERR_ECIES_BAD_MAC); the request fails with a typed error, no corrupted reply is delivered",
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('down', { flip: { offset: ahead(s, 'down', 100) } })
        const failure = expectFailsFast(s.echo.roundTrip(2000))
        expectTypedError(await closeReasonOf(s.out), FrameMacError, 'ERR_ECIES_BAD_MAC')
        await failure
        expect(s.echo.corrupt).toBe(0)
        expect(s.ledger.corrupt).toBe(0)
      } finally {
        await s.close()
      }
    },
  },
  {
    case: 'connection cut (FIN) in the middle of a request frame',
    expected: "B closes with TruncatedFrameError (ERR_ECIES_TRUNCATED_FRAME); A's in-flight request fails at once with a typed error, not a timeout",
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('up', { cutAfterBytes: ahead(s, 'up', 20), cutMode: 'fin' })
        const failure = expectFailsFast(s.echo.roundTrip(4000))
        expectTypedError(await closeReasonOf(s.inb), TruncatedFrameError, 'ERR_ECIES_TRUNCATED_FRAME')
        await failure
        await closeReasonOf(s.out)
        expect(s.ledger.intact).toBe(1)
      } finally {
        await s.close()
      }
    },
  },
  {
    case: 'connection reset (RST) in the middle of a request frame',
    expected: 'both connections close with a typed error; the in-flight request fails at once with a typed error, not a timeout',
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('up', { cutAfterBytes: ahead(s, 'up', 20), cutMode: 'reset' })
        const err = await expectFailsFast(s.echo.roundTrip(4000))
        const [outReason, inReason] = await Promise.all([closeReasonOf(s.out), closeReasonOf(s.inb)])
        for (const reason of [outReason, inReason]) {
          expect(reason, `close reason ${String(reason)}`).toBeInstanceOf(P2PError)
        }
        expect(err).toBeInstanceOf(P2PError)
        expect(s.ledger.intact).toBe(1)
      } finally {
        await s.close()
      }
    },
  },
  {
    case: 'blackholed connection (both directions swallowed), new stream opened',
    expected: 'newStream fails with StreamNegotiationTimeoutError (ERR_CONNECTION_STREAM_NEGOTIATION_TIMEOUT) at its deadline',
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('up', { blackhole: true })
        s.wire.setFaults('down', { blackhole: true })
        const err = await within(
          s.out.newStream(CHECKED_ECHO, { negotiationTimeoutMs: 100 }).then(
            () => new Error('negotiated through a blackhole'),
            (e: unknown) => e as Error,
          ),
          'newStream to fail',
        )
        expectTypedError(err, StreamNegotiationTimeoutError, 'ERR_CONNECTION_STREAM_NEGOTIATION_TIMEOUT')
        expect(s.wire.stats('up').swallowed).toBeGreaterThan(0)
      } finally {
        await s.close()
      }
    },
  },
  {
    case: 'delayed (2 ms per chunk) and throttled (1 MB/s) path, 4 streams × 50 messages of 1–8000 bytes',
    expected: 'every message delivered intact, exactly once, in order',
    timeoutMs: 120_000,
    run: async () => {
      const s = await session()
      try {
        s.wire.setFaults('up', { delayMs: 2, bytesPerSecond: 1_000_000 })
        s.wire.setFaults('down', { delayMs: 2, bytesPerSecond: 1_000_000 })
        const clients = [s.echo, ...(await Promise.all([1, 2, 3].map(async () => new EchoClient(await s.out.newStream(CHECKED_ECHO)))))]
        await Promise.all(
          clients.map(async (c) => {
            for (let i = 0; i < 50; i++) await c.roundTrip(1 + ((i * 7919) % 8000))
          }),
        )
        expect(clients.map((c) => [c.corrupt, c.duplicates])).toEqual(clients.map(() => [0, 0]))
        expect([s.ledger.corrupt, s.ledger.duplicates]).toEqual([0, 0])
        expect(s.ledger.intact).toBe(1 + 4 * 50)
      } finally {
        await s.close()
      }
    },
  },
  {
    case: '10 connections, each with one byte flipped at a random place and direction under concurrent traffic',
    expected: 'each connection dies with FrameMacError (ERR_ECIES_BAD_MAC) on the receiving side; no message is ever delivered corrupted or twice',
    timeoutMs: 120_000,
    run: async () => {
      for (let round = 0; round < 10; round++) {
        const s = await session()
        try {
          const dir: ProxyDirection = round % 2 === 0 ? 'up' : 'down'
          // Both streams exist before the flip is armed: a flip inside the second stream's
          // negotiation would fail newStream, which is not what this case is about.
          const clients = [s.echo, new EchoClient(await s.out.newStream(CHECKED_ECHO))]
          s.wire.setFaults(dir, { flip: { offset: ahead(s, dir, 1 + Math.floor(Math.random() * 20_000)), mask: 1 << round % 8 } })
          // Traffic until the flip kills the connection (bounded: the flip lies within the next 20 kB).
          await Promise.all(
            clients.map(async (c) => {
              try {
                for (let i = 0; i < 1000; i++) await c.roundTrip(500)
              } catch (err) {
                if (!(err instanceof P2PError)) throw err
              }
            }),
          )
          const receiver = dir === 'up' ? s.inb : s.out
          const reason = await closeReasonOf(receiver)
          expect(causeWithCode(reason, 'ERR_ECIES_BAD_MAC'), `close reason ${String(reason)}`).toBeDefined()
          expect(clients.map((c) => [c.corrupt, c.duplicates])).toEqual([
            [0, 0],
            [0, 0],
          ])
          expect([s.ledger.corrupt, s.ledger.duplicates]).toEqual([0, 0])
        } finally {
          await s.close()
        }
      }
    },
  },
])
