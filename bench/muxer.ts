/**
 * muxer: our mplex (src/p2p/muxer) vs @libp2p/mplex, each over plain TCP on
 * 127.0.0.1 (no encryption), a fresh connection per side per round.
 *
 * 1. one stream: bytes written in 64 KiB writes, one way; MB/s.
 * 2. streams: each stream opened, its protocol negotiated with
 *    multistream-select (ours: src/p2p/multistream; theirs:
 *    @libp2p/multistream-select), a 64-byte message echoed, both sides
 *    closed; streams per second with a fixed number in flight.
 * 3. concurrent: N streams open at once, each sends 100 messages of 1 KiB
 *    and closes, the remote reads to the end and closes; messages per second.
 * Each side uses its natural API: Node Duplex events for ours, libp2p v3
 * streams (send/onDrain, async iteration) for theirs.
 */
import { finished } from 'node:stream/promises'

import type { Stream, StreamMuxer } from '@libp2p/interface'
import { handle, select } from '@libp2p/multistream-select'

import { mssHandle, mssSelect } from '../src/p2p/multistream'
import { MplexMuxer, type MplexStream } from '../src/p2p/muxer'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { libp2pEcho, libp2pMplex, drain as libp2pDrain, sendAll } from './lib/libp2p'
import { noise, tcpPair, writeRepeated } from './lib/net'
import { row } from './lib/report'
import { alternate, pool, withTimeout } from './lib/rounds'
import { mbPerSec, median, now, perSec } from './lib/stats'

const ECHO = '/echo/1.0.0'
const WRITE_BYTES = 64 * 1024
const ECHO_BYTES = 64
const MESSAGE_BYTES = 1024
const MESSAGES_PER_STREAM = 100
/** Streams negotiated at once in part 2: a busy request-per-stream workload, well inside both muxers' limits. */
const STREAMS_IN_FLIGHT = 50
const PART_TIMEOUT_MS = 120_000

interface Sizes {
  oneStreamBytes: number
  streams: number
  concurrentStreams: number
}

interface RoundResult {
  oneStream: number
  streamsPerSec: number
  messagesPerSec: number
}

/** What one side must provide on an open connection pair. */
interface MuxerPair {
  oneStream(bytes: number, chunk: Uint8Array): Promise<void>
  echoStream(msg: Uint8Array): Promise<void>
  sendMessages(msg: Uint8Array, count: number): Promise<void>
  close(): Promise<void>
}

async function measure(open: () => Promise<MuxerPair>, sizes: Sizes): Promise<RoundResult> {
  const chunk = noise(WRITE_BYTES, 3)
  const echo = noise(ECHO_BYTES, 5)
  const msg = noise(MESSAGE_BYTES, 9)
  const pair = await open()
  try {
    let t0 = now()
    await withTimeout(pair.oneStream(sizes.oneStreamBytes, chunk), PART_TIMEOUT_MS, 'one stream')
    const oneStream = mbPerSec(sizes.oneStreamBytes, now() - t0)
    t0 = now()
    await withTimeout(pool(sizes.streams, STREAMS_IN_FLIGHT, () => pair.echoStream(echo)), PART_TIMEOUT_MS, 'streams')
    const streamsPerSec = perSec(sizes.streams, now() - t0)
    t0 = now()
    const all = Array.from({ length: sizes.concurrentStreams }, () => pair.sendMessages(msg, MESSAGES_PER_STREAM))
    await withTimeout(Promise.all(all), PART_TIMEOUT_MS, 'concurrent streams')
    const messagesPerSec = perSec(sizes.concurrentStreams * MESSAGES_PER_STREAM, now() - t0)
    return { oneStream, streamsPerSec, messagesPerSec }
  } finally {
    await pair.close()
  }
}

/** Ours: reads to the end, then ends its own side; resolves with the byte count once the stream is done. */
async function oursSink(s: MplexStream): Promise<number> {
  let n = 0
  s.on('data', (b: Uint8Array) => (n += b.length))
  s.on('end', () => s.end())
  await finished(s)
  return n
}

async function oursPair(): Promise<MuxerPair> {
  const tcp = await tcpPair()
  let inbound: (s: MplexStream) => void = (s) => s.reset()
  // A stream reset at teardown emits 'error'; without a listener that would end the process.
  const quiet = <T extends MplexStream>(s: T): T => s.on('error', () => {})
  const server = new MplexMuxer(tcp.listener, { onStream: (s) => inbound(quiet(s)) })
  const client = new MplexMuxer(tcp.dialer)
  const onInbound = (h: (s: MplexStream) => void): void => void (inbound = h)
  return {
    async oneStream(bytes, chunk) {
      const got = new Promise<number>((resolve) => onInbound((s) => void oursSink(s).then(resolve)))
      const s = quiet(client.newStream())
      s.resume()
      await writeRepeated(s, chunk, bytes)
      s.end()
      if ((await got) !== bytes) throw new Error('ours: one-stream byte count mismatch')
    },
    async echoStream(msg) {
      onInbound((s) => {
        mssHandle(s, [ECHO]).then(
          ({ stream }) => {
            stream.on('data', (d: Uint8Array) => stream.write(d))
            stream.on('end', () => stream.end())
          },
          () => s.reset(),
        )
      })
      const { stream } = await mssSelect(quiet(client.newStream()), [ECHO])
      let n = 0
      stream.on('data', (d: Uint8Array) => (n += d.length))
      stream.end(msg)
      await finished(stream)
      if (n !== msg.length) throw new Error('ours: echo length mismatch')
    },
    async sendMessages(msg, count) {
      onInbound((s) => void oursSink(s))
      const s = quiet(client.newStream())
      s.resume()
      for (let i = 0; i < count; i++) {
        if (!s.write(msg)) await new Promise<void>((resolve) => s.once('drain', resolve))
      }
      s.end()
      await finished(s)
    },
    async close() {
      await withTimeout(client.close(), 10_000, 'ours muxer close').catch(() => client.abort(new Error('bench close')))
      server.abort(new Error('bench done'))
      await tcp.close()
    },
  }
}

async function theirsPair(): Promise<MuxerPair> {
  const tcp = await tcpPair()
  let inbound: (s: Stream) => void = (s) => s.abort(new Error('unexpected stream'))
  const server: StreamMuxer = libp2pMplex(tcp.listener, 'inbound', (s) => inbound(s))
  const client: StreamMuxer = libp2pMplex(tcp.dialer, 'outbound')
  const onInbound = (h: (s: Stream) => void): void => void (inbound = h)
  const sink = async (s: Stream): Promise<number> => {
    const n = await libp2pDrain(s)
    await s.close()
    return n
  }
  return {
    async oneStream(bytes, chunk) {
      const got = new Promise<number>((resolve, reject) => onInbound((s) => void sink(s).then(resolve, reject)))
      const s = await client.createStream()
      await sendAll(s, chunk, bytes)
      await s.close()
      if ((await got) !== bytes) throw new Error('theirs: one-stream byte count mismatch')
      await libp2pDrain(s)
    },
    async echoStream(msg) {
      onInbound((s) => {
        handle(s, [ECHO]).then(
          () => libp2pEcho(s),
          (err: Error) => s.abort(err),
        )
      })
      const s = await client.createStream()
      await select(s, [ECHO])
      if (!s.send(msg)) await s.onDrain()
      await s.close()
      if ((await libp2pDrain(s)) !== msg.length) throw new Error('theirs: echo length mismatch')
    },
    async sendMessages(msg, count) {
      onInbound((s) => void sink(s))
      const s = await client.createStream()
      await sendAll(s, msg, msg.length * count)
      await s.close()
      await libp2pDrain(s)
    },
    async close() {
      await withTimeout(client.close(), 10_000, 'libp2p muxer close').catch((err: Error) => client.abort(err))
      server.abort(new Error('bench done'))
      await tcp.close()
    },
  }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 5, 2)
  const sizes: Sizes = ctx.quick
    ? { oneStreamBytes: 32 * 2 ** 20, streams: 200, concurrentStreams: 200 }
    : { oneStreamBytes: 256 * 2 ** 20, streams: 1000, concurrentStreams: 1000 }
  const warm: Sizes = { oneStreamBytes: 8 * 2 ** 20, streams: 100, concurrentStreams: 50 }
  const res = await alternate<RoundResult>({
    rounds,
    label: 'muxer',
    log: ctx.log,
    warmup: { ours: () => measure(oursPair, warm), anchor: () => measure(theirsPair, warm) },
    ours: () => measure(oursPair, sizes),
    anchor: () => measure(theirsPair, sizes),
  })
  const anchorName = '@libp2p/mplex'
  const m = (side: RoundResult[], k: keyof RoundResult): number => median(side.map((r) => r[k]))
  return {
    bench: 'muxer',
    rounds,
    headline: 0,
    rows: [
      row({ metric: 'one stream', unit: 'MB/s', better: 'higher', ours: m(res.ours, 'oneStream'), anchor: m(res.anchor, 'oneStream'), anchorName, target: 1.2, note: `${sizes.oneStreamBytes / 2 ** 20} MiB in ${WRITE_BYTES / 1024} KiB writes` }),
      row({ metric: 'negotiated streams', unit: 'streams/s', better: 'higher', ours: m(res.ours, 'streamsPerSec'), anchor: m(res.anchor, 'streamsPerSec'), anchorName, target: 2, note: `${sizes.streams} streams, ${STREAMS_IN_FLIGHT} in flight, mss + ${ECHO_BYTES} B echo + close` }),
      row({ metric: 'concurrent streams', unit: 'msg/s', better: 'higher', ours: m(res.ours, 'messagesPerSec'), anchor: m(res.anchor, 'messagesPerSec'), anchorName, note: `${sizes.concurrentStreams} streams × ${MESSAGES_PER_STREAM} × ${MESSAGE_BYTES} B` }),
    ],
    notes: ['plain TCP on 127.0.0.1, both ends in this process; medians over rounds; MB = 10^6 bytes'],
  }
}

export const muxer: Bench = {
  name: 'muxer',
  description: 'our mplex vs @libp2p/mplex over TCP: one-stream MB/s, negotiated streams/s, 1,000 streams × 100 messages',
  run,
}
