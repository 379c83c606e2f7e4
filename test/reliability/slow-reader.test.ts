import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { DEFAULT_MAX_SEND_BUFFER_BYTES } from '../../src/client/net/protocol/streamsender'
import { EthCode, encodeEthPayload, encodeStatus } from '../../src/client/net/protocol/ethmessages'
import { Event } from '../../src/client/types'
import { DEFAULT_MAX_STREAM_BUFFER_SIZE, writeMessage, type Connection, type MuxedStream } from '../../src/p2p'
import { waitForEvent } from '../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, readAll, writeAll } from '../p2p/stack/helpers'
import { connectPair, listen, makeNode } from '../p2p/stack/nodes'
import { settled, startP2PNode, type P2PNode } from '../client/net/p2p/nodes'
import { MiB, until } from '../utils/resources'
import { Chain } from '../../src/client/blockchain/chain'
import type { P2PPeer } from '../../src/client/net/peer/p2ppeer'
import { buildLargeBlock } from '../../src/client/testing/largeblock'

/**
 * Issue 6, item 5 (slow peers): a peer that never reads.
 *
 * Stack level: the writer honours backpressure (waits for 'drain'), so what
 * it pushes stays bounded by the pipeline's buffers; the receiving muxer's
 * documented head-of-line policy (src/p2p/muxer/flow.ts) resets the stream
 * after `stallTimeoutMs` (1 s here; default 10 s) with
 * ERR_MPLEX_STREAM_STALLED, the writer sees ERR_MPLEX_STREAM_RESET, the
 * connection's other streams — blocked meanwhile, as documented — go on, and
 * another connection is never blocked.
 *
 * Node level: a peer that sends requests and never reads the replies is cut
 * off by the StreamSender's send-buffer limit (DEFAULT_MAX_SEND_BUFFER_BYTES,
 * 32 MiB) while another peer is served throughout.
 *
 * Stated bounds: the stack-level writer gets rid of less than 32 MiB of the
 * 256 MiB it tries to write; the node writes at most the send-buffer limit
 * plus 16 MiB (transport buffers) to the peer that does not read.
 */

const SINK = '/sink/1.0.0'
const ECHO = '/echo/1.0.0'
const STALL_TIMEOUT_MS = 1_000
const ATTEMPT = 256 * MiB
const WRITER_BOUND = 32 * MiB
const PIPELINE_SLACK = 16 * MiB
/** 60 replies of 1.5 MiB: 90 MiB asked for, nearly three times the send-buffer limit. */
const REQUESTS = 60

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Writes until the stream dies or ATTEMPT bytes went out, waiting for 'drain' whenever asked to. */
async function writeHonouringBackpressure(stream: Duplex): Promise<{ pushed: number; died: boolean }> {
  const chunk = randomBytes(64 * 1024)
  let pushed = 0
  while (pushed < ATTEMPT) {
    const ok = stream.write(chunk)
    pushed += chunk.length
    if (ok) continue
    const drained = await new Promise<boolean>((resolve) => {
      const onDrain = (): void => {
        stream.off('close', onClose)
        resolve(true)
      }
      const onClose = (): void => {
        stream.off('drain', onDrain)
        resolve(false)
      }
      stream.once('drain', onDrain)
      stream.once('close', onClose)
    })
    if (!drained) return { pushed, died: true }
  }
  return { pushed, died: false }
}

async function echoWorks(conn: Connection): Promise<void> {
  const stream = await conn.newStream(ECHO)
  const data = randomBytes(8192)
  const [got] = await Promise.all([readAll(stream), writeAll(stream, data)])
  expect(got.equals(data)).toBe(true)
}


describe('a peer that never reads, at the stack level', () => {
  it('is stopped by backpressure, then reset by the stall policy; other streams and peers go on', async () => {
    const b = makeNode({ muxer: { stallTimeoutMs: STALL_TIMEOUT_MS } })
    b.registrar.handle(ECHO, echo)
    let sinkAtB: Duplex | undefined
    const sinkReset = new Promise<{ code: string; buffered: number }>((resolve) => {
      b.registrar.handle(SINK, (stream) => {
        sinkAtB = stream // never read
        stream.once('error', (err: Error & { code?: string }) => resolve({ code: err.code ?? '', buffered: stream.readableLength }))
      })
    })
    const l = await listen(b)
    cleanups.push(() => l.close())
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    const other = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(other.out))

    const sink = await out.newStream(SINK)
    const writerError = waitForEvent<[Error & { code?: string }]>(sink, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    writerError.catch(() => undefined)
    const order: string[] = []
    const writing = writeHonouringBackpressure(sink).then((r) => {
      order.push('sink reset')
      return r
    })
    // Once the receiver's unread buffer passed its mark (the muxer paused the connection), another connection still works...
    await until(() => sinkAtB !== undefined && sinkAtB.readableLength >= sinkAtB.readableHighWaterMark)
    await echoWorks(other.out)
    // ...and an echo on the stalled connection itself completes, after the reset (head-of-line policy).
    const sameConn = echoWorks(out).then(() => order.push('echo on the same connection'))

    const { pushed, died } = await writing
    expect(died).toBe(true)
    expect(pushed).toBeLessThan(WRITER_BOUND)
    const reset = await sinkReset
    expect(reset.code).toBe('ERR_MPLEX_STREAM_STALLED')
    expect(reset.buffered).toBeLessThanOrEqual(DEFAULT_MAX_STREAM_BUFFER_SIZE)
    expect((await writerError)[0].code).toBe('ERR_MPLEX_STREAM_RESET')
    await sameConn
    expect(order).toEqual(['sink reset', 'echo on the same connection'])
    expect(out.status).toBe('open')
  })
})

const nodes: P2PNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
})

/** Frames one eth message as the stream carries it: uvarint(n) || code || RLP(payload). */
function sendEth(stream: Duplex, code: number, payload: Parameters<typeof RLP.encode>[0]): void {
  writeMessage(stream, [Uint8Array.of(code), RLP.encode(payload)])
}

describe('a peer that never reads, at the node level', () => {
  it('is cut off at the send-buffer limit while another peer is served', async () => {
    // One block with a 1.5 MiB body: every GetBlockBodies reply is that big, and cheap to serve.
    const large = await buildLargeBlock({ targetBytes: Math.floor(1.5 * MiB), seed: 'h12-slow-reader' })
    const hash = large.blocks[0]!.hash()
    const source = await Chain.create({ common: large.common })
    await source.putBlocks(large.blocks, large.receipts)
    const a = await startP2PNode({ chain: source })
    nodes.push(a)
    const port = Number(new URL(a.url).port)
    const aId = Buffer.from(new URL(a.url).username, 'hex')
    // The peer that never reads: its own muxer must not reset the stream for it (no stall policy).
    const slow = makeNode({ muxer: { stallTimeoutMs: Infinity } })
    const slowId = bytesToUnprefixedHex(slow.id)
    const connected = a.config.events.waitFor(Event.PEER_CONNECTED, { timeoutMs: EVENT_TIMEOUT_MS, filter: (p) => p.id === slowId })
    const conn = await slow.transport.dial({ host: '127.0.0.1', port }, { remoteId: aId })
    cleanups.push(() => closeConnection(conn))
    const stream: MuxedStream = await conn.newStream(a.protocol.protocolIds)
    stream.on('error', () => {})
    const version = Number(/\/eth\/(\d+)\//.exec(stream.protocol!)![1])
    sendEth(stream, EthCode.Status, encodeStatus(a.protocol.createStatus(version)))
    const [peerAtA] = await connected
    const gone = a.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: EVENT_TIMEOUT_MS, filter: (p) => p.id === slowId })

    // A good peer fetching from A all along.
    const good = await startP2PNode({ chain: await Chain.create({ common: large.common }), bootnodes: [a.url] })
    nodes.push(good)
    await settled(good, () => good.server.peers.length === 1)
    const goodPeer = good.server.peers[0]!

    // REQUESTS replies of 1.5 MiB: far more than the send-buffer limit, never read.
    const common = a.config.common
    for (let i = 0; i < REQUESTS; i++) {
      sendEth(stream, EthCode.GetBlockBodies, encodeEthPayload('GetBlockBodies', { reqId: BigInt(i + 1), hashes: [hash] }, { version, common }))
    }
    let served = 0
    let cut = false
    void gone.then(() => (cut = true), () => undefined)
    // Until the cut (bounded: it comes after a couple of dozen replies).
    while (!cut && served < 100_000) {
      expect(await goodPeer.eth!.getBlockHeaders({ block: 0n, max: 2 })).toHaveLength(2)
      served++
    }
    const [, reason] = await gone
    // A's graceful close of the cut session waits for a peer that does not read; end it from this side.
    conn.abort(new Error('test done'))
    const bytesOut = (peerAtA as unknown as P2PPeer).ethSender?.stats.bytesOut ?? 0
    console.info(`slow reader cut after ${(bytesOut / MiB).toFixed(1)} MiB written to it (${reason}); good peer served ${served} requests meanwhile`)
    expect(served).toBeGreaterThan(0)
    expect(bytesOut).toBeGreaterThan(0)
    expect(bytesOut).toBeLessThan(DEFAULT_MAX_SEND_BUFFER_BYTES + PIPELINE_SLACK)
    // The good peer is still connected and served after the cut.
    expect(good.server.peers).toHaveLength(1)
    expect(await goodPeer.eth!.getBlockBodies({ hashes: [hash] })).toHaveLength(1)
  })
})
