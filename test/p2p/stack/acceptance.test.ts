import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection } from '../../../src/p2p/connection'
import { DEFAULT_MAX_STREAM_BUFFER_SIZE } from '../../../src/p2p/muxer'
import { ProtocolNotSupportedError, TooManyStreamsError } from '../../../src/p2p/stack-errors'
import type { TransportListener } from '../../../src/p2p/transport'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, expectResourcesBackTo, readAll, writeAll } from './helpers'
import { connectPair, listen, makeNode, type TestNode } from './nodes'

/**
 * Issue 3's acceptance checks, over real TCP on 127.0.0.1 with the whole
 * stack: ECIES, multistream-select, mplex, Connection, Registrar.
 */

const ECHO = '/echo/1.0.0'
const SINK = '/sink/1.0.0'
const MiB = 1024 * 1024

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(
  serverOpts: Parameters<typeof makeNode>[0] = {},
): Promise<{ a: TestNode; b: TestNode; l: TransportListener; out: Connection; inb: Connection }> {
  const a = makeNode()
  const b = makeNode(serverOpts)
  const l = await listen(b)
  cleanups.push(() => l.close())
  const { out, inb } = await connectPair(a, b, l)
  cleanups.push(() => closeConnection(out))
  return { a, b, l, out, inb }
}

const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('whole stack over TCP', () => {
  it('echoes 1 MiB of random bytes on each of 100 concurrent streams, byte-exact', async () => {
    const { a, b, out } = await setup()
    b.registrar.handle(ECHO, echo, { maxInboundStreams: 128 })
    a.registrar.handle(ECHO, echo, { maxOutboundStreams: 128 })
    const streams = await Promise.all(Array.from({ length: 100 }, () => out.newStream(ECHO)))
    expect(new Set(streams.map((s) => s.id)).size).toBe(100)
    const results = await Promise.all(
      streams.map(async (stream) => {
        const data = randomBytes(MiB)
        const [received] = await Promise.all([readAll(stream), writeAll(stream, data)])
        return { sent: digest(data), received: digest(received), length: received.length }
      }),
    )
    for (const r of results) {
      expect(r.length).toBe(MiB)
      expect(r.received).toBe(r.sent)
    }
    expect(out.stats.streamsOpened).toBe(100)
    expect(out.stats.bytesOut).toBeGreaterThan(100 * MiB)
    expect(out.stats.bytesIn).toBeGreaterThan(100 * MiB)
  })

  it('a stream nobody reads stops its writer (backpressure) far below 256 MiB, then is reset by the stall policy', async () => {
    const { b, out } = await setup({ muxer: { stallTimeoutMs: 1_000 } })
    b.registrar.handle(ECHO, echo)
    let bufferedAtReset = -1
    const sinkError = new Promise<Error>((resolve) => {
      b.registrar.handle(SINK, (stream) => {
        // never read
        stream.once('error', (err) => {
          bufferedAtReset = stream.readableLength
          resolve(err)
        })
      })
    })
    const stream = await out.newStream(SINK)
    const writerError = waitForEvent<[Error]>(stream, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    writerError.catch(() => {})

    const chunk = randomBytes(64 * 1024)
    const target = 256 * MiB
    let pushed = 0
    let stalled = false
    while (pushed < target && !stalled) {
      const ok = stream.write(chunk)
      pushed += chunk.length
      if (ok) continue
      // Either the pipeline frees room ('drain') or the stream dies: never a timer.
      stalled = await new Promise<boolean>((resolve) => {
        const onDrain = (): void => {
          stream.off('close', onClose)
          resolve(false)
        }
        const onClose = (): void => {
          stream.off('drain', onDrain)
          resolve(true)
        }
        stream.once('drain', onDrain)
        stream.once('close', onClose)
      })
    }
    expect(stalled, `writer never stalled (pushed ${pushed} bytes)`).toBe(true)
    // Everything the writer got rid of is bounded by the pipeline's buffers, not by 256 MiB.
    expect(pushed, 'bytes the writer pushed before stalling').toBeLessThan(32 * MiB)
    const sinkErr = (await sinkError) as Error & { code: string }
    expect(sinkErr.code, `receiver stream error: ${sinkErr.message}`).toBe('ERR_MPLEX_STREAM_STALLED')
    // What the receiver's stream held when the policy reset it: bounded by the muxer's per-stream cap.
    expect(bufferedAtReset, 'receiver buffered bytes at reset').toBeGreaterThan(0)
    expect(bufferedAtReset, 'receiver buffered bytes at reset').toBeLessThanOrEqual(DEFAULT_MAX_STREAM_BUFFER_SIZE)
    const [writerErr] = (await writerError) as [Error & { code: string }]
    expect(writerErr.code, `writer stream error: ${writerErr.message}`).toBe('ERR_MPLEX_STREAM_RESET')
    // The connection was only paused for the stalled stream: it serves others again.
    const again = await out.newStream(ECHO)
    const data = randomBytes(100_000)
    const [received] = await Promise.all([readAll(again), writeAll(again, data)])
    expect(received.equals(data)).toBe(true)
  })

  it('closing both sides leaves no socket, timer or TCP listener behind', async () => {
    const baseline = process.getActiveResourcesInfo()
    const a = makeNode()
    const b = makeNode()
    b.registrar.handle(ECHO, echo)
    const l = await listen(b)
    const { out, inb } = await connectPair(a, b, l)
    const streams: Duplex[] = await Promise.all([out.newStream(ECHO), out.newStream(ECHO)])
    await Promise.all(streams.map((s) => Promise.all([readAll(s), writeAll(s, randomBytes(200_000))])))
    const held = await out.newStream(ECHO) // left open: close() must take it down too
    held.on('error', () => {})
    const inClosed = waitForEvent(inb, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await closeConnection(out)
    await inClosed
    const listenerClosed = waitForEvent(l, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await l.close()
    await listenerClosed
    expect(out.streams).toEqual([])
    expect(inb.streams).toEqual([])
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })

  it('reports an unsupported protocol and per-protocol limits with typed errors', async () => {
    const { a, b, out } = await setup()
    b.registrar.handle(ECHO, echo, { maxInboundStreams: 2 })
    a.registrar.handle(ECHO, echo, { maxOutboundStreams: 3 })
    const missing = await out.newStream('/missing/1.0.0').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(ProtocolNotSupportedError)
    const s1 = await out.newStream(ECHO)
    const s2 = await out.newStream(ECHO)
    // The remote's inbound limit (2) is hit before our outbound one (3).
    const overRemote = await out.newStream(ECHO).catch((e: unknown) => e)
    expect(overRemote).toBeInstanceOf(ProtocolNotSupportedError)
    s1.destroy()
    s2.destroy()
    await Promise.all([waitForEvent(s1, 'close'), waitForEvent(s2, 'close')].map((p) => p.catch(() => {})))
    b.registrar.unhandle(ECHO)
    b.registrar.handle(ECHO, echo, { maxInboundStreams: 10 })
    const open = await Promise.all([out.newStream(ECHO), out.newStream(ECHO), out.newStream(ECHO)])
    const overLocal = await out.newStream(ECHO).catch((e: unknown) => e)
    expect(overLocal).toBeInstanceOf(TooManyStreamsError)
    open.forEach((s) => s.destroy())
  })
})
