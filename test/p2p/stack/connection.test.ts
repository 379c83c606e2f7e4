import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection } from '../../../src/p2p/connection'
import { MplexMuxer } from '../../../src/p2p/muxer'
import type { MuxedStream } from '../../../src/p2p/muxed-stream'
import { TimeoutError } from '../../../src/p2p/errors'
import {
  ConnectionClosedError,
  ProtocolNotSupportedError,
  StreamHandlerError,
  StreamNegotiationError,
  StreamNegotiationTimeoutError,
  TooManyStreamsError,
} from '../../../src/p2p/stack-errors'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, expectResourcesBackTo, readAll, writeAll } from './helpers'
import { connectionPair, tcpPair } from './socket-pair'

const ECHO = '/echo/1.0.0'

let open: Connection[] = []
afterEach(async () => {
  await Promise.all(open.map((c) => closeConnection(c)))
  open = []
})

async function pair(...args: Parameters<typeof connectionPair>) {
  const p = await connectionPair(...args)
  open.push(p.out, p.inb)
  return p
}

async function roundTrip(conn: Connection, protocol = ECHO, size = 4096): Promise<void> {
  const stream = await conn.newStream(protocol)
  const data = randomBytes(size)
  const [received] = await Promise.all([readAll(stream), writeAll(stream, data)])
  expect(Buffer.compare(received, data)).toBe(0)
}

describe('Connection streams', () => {
  it('negotiates an outbound stream, sets protocol on both ends and echoes bytes', async () => {
    const { out, inb, inRegistrar } = await pair()
    const seen: string[] = []
    inRegistrar.handle(ECHO, (stream, conn) => {
      seen.push(`handler:${stream.protocol}:${conn === inb}`)
      echo(stream)
    })
    inb.on('stream', (s: MuxedStream) => seen.push(`event:${s.protocol}`))
    const stream = await out.newStream([ECHO])
    expect(stream.protocol).toBe(ECHO)
    expect(stream.direction).toBe('outbound')
    const data = randomBytes(300_000)
    const [received] = await Promise.all([readAll(stream), writeAll(stream, data)])
    expect(Buffer.compare(received, data)).toBe(0)
    expect(seen).toEqual([`event:${ECHO}`, `handler:${ECHO}:true`])
    expect(out.stats.streamsOpened).toBe(1)
    expect(inb.stats.streamsOpened).toBe(1)
    expect(out.stats.bytesOut).toBeGreaterThan(300_000)
    expect(inb.stats.bytesIn).toBeGreaterThan(300_000)
  })

  it('falls through the proposal list to a supported protocol', async () => {
    const { out, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    const stream = await out.newStream(['/nope/1', ECHO])
    expect(stream.protocol).toBe(ECHO)
    stream.destroy()
  })

  it('throws ProtocolNotSupportedError when the remote supports none, and stays usable', async () => {
    const { out, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    const err = await out.newStream(['/a/1', '/b/1']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect((err as ProtocolNotSupportedError).code).toBe('ERR_CONNECTION_PROTOCOL_NOT_SUPPORTED')
    await roundTrip(out)
    expect(out.status).toBe('open')
  })

  it('enforces maxOutboundStreams per protocol without opening a stream', async () => {
    const { out, outRegistrar, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    outRegistrar.handle(ECHO, echo, { maxOutboundStreams: 2 })
    const s1 = await out.newStream(ECHO)
    const s2 = await out.newStream(ECHO)
    const before = out.streams.length
    const err = await out.newStream(ECHO).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TooManyStreamsError)
    expect((err as TooManyStreamsError).code).toBe('ERR_CONNECTION_TOO_MANY_OUTBOUND_STREAMS')
    expect(out.streams.length).toBe(before)
    // Concurrent opens race past the pre-check; the post-negotiation check still holds the limit.
    s1.destroy()
    const results = await Promise.allSettled([out.newStream(ECHO), out.newStream(ECHO), out.newStream(ECHO)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TooManyStreamsError)
    s2.destroy()
  })

  it('enforces maxInboundStreams per protocol: excess streams are refused, held ones keep working', async () => {
    const { out, inb, inRegistrar } = await pair()
    const held: MuxedStream[] = []
    inRegistrar.handle(
      '/hold/1',
      (s) => {
        held.push(s)
        echo(s)
      },
      { maxInboundStreams: 1 },
    )
    const first = await out.newStream('/hold/1')
    const err = await out.newStream('/hold/1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect(held).toHaveLength(1)
    expect(inb.streams.filter((s) => s.protocol === '/hold/1')).toHaveLength(1)
    const data = randomBytes(1000)
    const [received] = await Promise.all([readAll(first), writeAll(first, data)])
    expect(Buffer.compare(received, data)).toBe(0)
  })

  it('a throwing or rejecting handler resets only its stream', async () => {
    const { out, inRegistrar } = await pair()
    const calls: string[] = []
    inRegistrar.handle('/throws/1', () => {
      calls.push('throws')
      throw new Error('sync boom')
    })
    inRegistrar.handle('/rejects/1', async () => {
      calls.push('rejects')
      throw new Error('async boom')
    })
    inRegistrar.handle(ECHO, echo)
    for (const proto of ['/throws/1', '/rejects/1']) {
      // The reset may overtake the negotiation's last read, so it surfaces either way.
      const outcome = await out.newStream(proto).then(
        async (stream) => (await waitForEvent<[Error]>(stream, 'error', { timeoutMs: EVENT_TIMEOUT_MS }))[0],
        (err: Error) => err.cause as Error,
      )
      expect((outcome as Error & { code?: string }).code).toBe('ERR_MPLEX_STREAM_RESET')
    }
    expect(calls).toEqual(['throws', 'rejects'])
    await roundTrip(out)
    expect(out.status).toBe('open')
  })

  it("reports each failed inbound stream as 'streamError': a failing handler, a failed negotiation", async () => {
    const { out, inb, inRegistrar } = await pair()
    const failures: Error[] = []
    inb.on('streamError', (err: Error, stream: MuxedStream) => {
      expect(stream.destroyed).toBe(true)
      failures.push(err)
    })
    inRegistrar.handle('/throws/1', () => {
      throw new Error('sync boom')
    })
    inRegistrar.handle('/rejects/1', async () => {
      throw new Error('async boom')
    })
    inRegistrar.handle(ECHO, echo)
    for (const [proto, message] of [
      ['/throws/1', 'sync boom'],
      ['/rejects/1', 'async boom'],
    ] as const) {
      const failed = waitForEvent<[Error]>(inb, 'streamError', { timeoutMs: EVENT_TIMEOUT_MS })
      void out.newStream(proto).then((stream) => stream.on('error', () => {}), () => {})
      const [err] = await failed
      expect(err).toBeInstanceOf(StreamHandlerError)
      expect((err as StreamHandlerError).protocol).toBe(proto)
      expect((err.cause as Error).message).toBe(message)
    }
    // A proposal we refuse with na: the dialer gives up and resets the stream mid-negotiation.
    const refused = waitForEvent<[Error]>(inb, 'streamError', { timeoutMs: EVENT_TIMEOUT_MS })
    expect(await out.newStream('/nope/1').catch((e: unknown) => e)).toBeInstanceOf(ProtocolNotSupportedError)
    expect((await refused)[0]).toBeInstanceOf(StreamNegotiationError)
    await roundTrip(out)
    expect(failures).toHaveLength(3)
    expect(inb.status).toBe('open')
  })

  it('many concurrent negotiations (ours and the remote\'s) print no MaxListenersExceededWarning', async () => {
    // Each negotiation links one abort listener to the connection's lifetime signal; a remote decides how
    // many are in flight on our inbound side, so Node's default cap of 10 must not apply there.
    const { out, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      const streams = await Promise.all(Array.from({ length: 24 }, () => out.newStream(ECHO)))
      expect(streams).toHaveLength(24)
      // process 'warning' is emitted on a later tick than the listener that triggered it.
      await new Promise<void>((resolve) => setImmediate(resolve))
      expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([])
      for (const s of streams) s.destroy()
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('aborting newStream rejects with the abort reason and resets the stream', async () => {
    const { out, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    const ctl = new AbortController()
    const pending = out.newStream(ECHO, { signal: ctl.signal })
    ctl.abort()
    const err = await pending.catch((e: unknown) => e)
    expect((err as Error & { code?: string }).code).toBe('ERR_ABORTED')
    const already = await out.newStream(ECHO, { signal: ctl.signal }).catch((e: unknown) => e)
    expect((already as Error & { code?: string }).code).toBe('ERR_ABORTED')
    await roundTrip(out)
  })
})

describe('Connection stream negotiation timeouts', () => {
  it('resets an inbound stream that never negotiates', async () => {
    const { a, b } = await tcpPair()
    const { Connection } = await import('../../../src/p2p/connection')
    const { Registrar } = await import('../../../src/p2p/registrar')
    const registrar = new Registrar()
    registrar.handle(ECHO, echo)
    const conn = new Connection({
      remoteId: new Uint8Array(64),
      remoteAddr: { host: '127.0.0.1', port: 1 },
      direction: 'inbound',
      socket: b,
      stream: b,
      registrar,
      streamNegotiationTimeoutMs: 50,
    })
    open.push(conn)
    const failed = waitForEvent<[Error]>(conn, 'streamError', { timeoutMs: EVENT_TIMEOUT_MS })
    const raw = new MplexMuxer(a)
    const silent = raw.newStream()
    const [err] = await waitForEvent<[Error]>(silent, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    expect((err as Error & { code?: string }).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(conn.status).toBe('open')
    // Reported too, as the timeout it is: a StreamNegotiationTimeoutError, of the timeout family.
    const [reported] = await failed
    expect(reported).toBeInstanceOf(StreamNegotiationTimeoutError)
    expect(reported).toBeInstanceOf(TimeoutError)
    const closed = waitForEvent(raw, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await raw.close()
    await closed
  })

  it('times out an outbound negotiation the remote never answers', async () => {
    const { a, b } = await tcpPair()
    const { Connection } = await import('../../../src/p2p/connection')
    const { Registrar } = await import('../../../src/p2p/registrar')
    const conn = new Connection({
      remoteId: new Uint8Array(64),
      remoteAddr: { host: '127.0.0.1', port: 1 },
      direction: 'outbound',
      socket: a,
      stream: a,
      registrar: new Registrar(),
    })
    open.push(conn)
    const inboundStreams: Duplex[] = []
    const raw = new MplexMuxer(b, { onStream: (s) => inboundStreams.push(s.on('error', () => {})) })
    const err = await conn.newStream(ECHO, { negotiationTimeoutMs: 50 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StreamNegotiationTimeoutError)
    expect((err as StreamNegotiationTimeoutError).code).toBe('ERR_CONNECTION_STREAM_NEGOTIATION_TIMEOUT')
    expect(inboundStreams).toHaveLength(1)
    const closed = waitForEvent(raw, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    raw.abort(new Error('test over'))
    await closed
  })
})

describe('Connection close', () => {
  it('goes open → closing → closed, emits close once on both sides, refuses new streams', async () => {
    const baseline = process.getActiveResourcesInfo()
    const { out, inb, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    await roundTrip(out)
    let outCloses = 0
    out.on('close', () => outCloses++)
    const inClosed = waitForEvent<[Error | undefined]>(inb, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const outClosed = waitForEvent<[Error | undefined]>(out, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const closing = out.close()
    expect(out.status).toBe('closing')
    expect(out.close()).toBe(closing)
    await closing
    expect(out.status).toBe('closed')
    const [outReason] = await outClosed
    const [inReason] = await inClosed
    expect(outReason).toBeUndefined()
    expect(inReason).toBeUndefined()
    expect(inb.status).toBe('closed')
    await out.close()
    expect(outCloses).toBe(1)
    const err = await out.newStream(ECHO).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConnectionClosedError)
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })

  it('abort(err) destroys at once, reports err, and the remote sees the connection go', async () => {
    const { out, inb, inRegistrar } = await pair()
    inRegistrar.handle(ECHO, echo)
    const stream = await out.newStream(ECHO)
    const streamError = waitForEvent<[Error]>(stream, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const outClosed = waitForEvent<[Error | undefined]>(out, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const inClosed = waitForEvent<[Error | undefined]>(inb, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const reason = new ConnectionClosedError('test abort')
    out.abort(reason)
    expect((await outClosed)[0]).toBe(reason)
    expect((await streamError)[0]).toBe(reason)
    await inClosed
    expect(inb.status).toBe('closed')
  })

  it('a pending negotiation fails with ConnectionClosedError when the connection closes', async () => {
    const { a, b } = await tcpPair()
    const { Connection } = await import('../../../src/p2p/connection')
    const { Registrar } = await import('../../../src/p2p/registrar')
    const conn = new Connection({
      remoteId: new Uint8Array(64),
      remoteAddr: { host: '127.0.0.1', port: 1 },
      direction: 'outbound',
      socket: a,
      stream: a,
      registrar: new Registrar(),
    })
    const raw = new MplexMuxer(b, { onStream: (s) => s.on('error', () => {}) })
    const rawClosed = waitForEvent(raw, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const pending = conn.newStream(ECHO)
    const closed = waitForEvent(conn, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    conn.abort(new ConnectionClosedError('going away'))
    const err = await pending.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConnectionClosedError)
    await closed
    await rawClosed
  })

  it('a remote that never finishes the close is cut after closeTimeoutMs with a typed reason', async () => {
    const { a, b } = await tcpPair()
    const { Connection } = await import('../../../src/p2p/connection')
    const { Registrar } = await import('../../../src/p2p/registrar')
    const { ConnectionCloseTimeoutError } = await import('../../../src/p2p/stack-errors')
    const conn = new Connection({
      remoteId: new Uint8Array(64),
      remoteAddr: { host: '127.0.0.1', port: 1 },
      direction: 'outbound',
      socket: a,
      stream: a,
      registrar: new Registrar(),
      closeTimeoutMs: 50,
    })
    // The remote keeps its half open after our FIN (a peer that never finishes the close).
    b.allowHalfOpen = true
    b.on('error', () => {})
    const closed = waitForEvent<[Error | undefined]>(conn, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await conn.close()
    const [reason] = await closed
    expect(reason).toBeInstanceOf(ConnectionCloseTimeoutError)
    expect((reason as Error & { code: string }).code).toBe('ERR_CONNECTION_CLOSE_TIMEOUT')
    expect(conn.status).toBe('closed')
    b.destroy()
  })

  it('a muxer protocol violation closes the connection with the muxer’s typed error', async () => {
    const { a, b } = await tcpPair()
    const { Connection } = await import('../../../src/p2p/connection')
    const { Registrar } = await import('../../../src/p2p/registrar')
    const conn = new Connection({
      remoteId: new Uint8Array(64),
      remoteAddr: { host: '127.0.0.1', port: 1 },
      direction: 'inbound',
      socket: b,
      stream: b,
      registrar: new Registrar(),
    })
    a.on('error', () => {})
    a.resume()
    const closed = waitForEvent<[Error | undefined]>(conn, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    a.write(Uint8Array.of(0x07, 0x00)) // stream 0, flag 7: undefined in mplex
    const [reason] = await closed
    expect((reason as Error & { code: string }).code).toBe('ERR_MPLEX_INVALID_FLAG')
    expect(conn.closeReason).toBe(reason)
    a.destroy()
  })
})
