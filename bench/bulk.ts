/**
 * bulk: 1 MiB ETH messages, one way, over one established session.
 *
 * Ours: one /eth/68 stream (uvarint framing, StreamSender) over mplex over
 * ECIES over TCP. Anchor: devp2p's RLPx ETH (`ETH.sendMessage`, which
 * snappy-compresses; the payload is incompressible noise so that buys
 * nothing). Both receivers RLP-decode each message, as devp2p's ETH does.
 * Senders respect backpressure (the mplex stream's, the devp2p socket's).
 *
 * In the same run: raw TCP loopback (same bytes, same 1 MiB writes) and the
 * crypto ceiling: AES-256-CTR (node:crypto) plus the RLPx frame MAC with the
 * keccak engine src/p2p/crypto uses, over the same bytes in the secure
 * channel's outbound frame size. Every endpoint runs in this one process,
 * so the like-for-like ceiling does both ends' crypto on one thread.
 *
 * A side stops sending at the byte total or the time cap, whichever comes
 * first, and its rate is what arrived over the time it took.
 */
import { createCipheriv, randomBytes } from 'node:crypto'

import { RLP } from '@ethereumjs/rlp'

import { DEFAULT_MAX_OUTBOUND_FRAME_SIZE } from '../src/p2p/crypto'
import { loadKeccakEngine } from '../src/p2p/crypto/keccak'
import { FrameMac } from '../src/p2p/crypto/mac'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { statusSource } from './lib/chain'
import { Closer, noise, tcpPair, writeRepeated } from './lib/net'
import { p2pEthPair } from './lib/p2p'
import { row } from './lib/report'
import { alternate, withTimeout } from './lib/rounds'
import { devp2pPair } from './lib/rlpx'
import { mbPerSec, median, now } from './lib/stats'

export const MiB = 1024 * 1024
export const MESSAGE_BYTES = MiB
/** eth Transactions: any ETH message code does; the payload is one 1 MiB byte string. */
const CODE = 0x02

export interface Sizes {
  totalBytes: number
  /** A side stops sending after this long; its rate covers what it delivered. */
  capMs: number
}

export interface Transfer {
  bytes: number
  ms: number
}

export const rate = (t: Transfer): number => mbPerSec(t.bytes, t.ms)

/** Sender loop shared by both ETH sides: send until the total or the cap, wait for the receiver to count them all. */
async function transfer(
  send: () => Promise<void>,
  received: { count: number; wait(n: number): Promise<void> },
  sizes: Sizes,
): Promise<Transfer> {
  const want = Math.ceil(sizes.totalBytes / MESSAGE_BYTES)
  const start = received.count
  const t0 = now()
  let sent = 0
  while (sent < want && now() - t0 < sizes.capMs) {
    await send()
    sent++
  }
  await withTimeout(received.wait(start + sent), sizes.capMs + 120_000, 'bulk receiver')
  return { bytes: sent * MESSAGE_BYTES, ms: now() - t0 }
}

/** Counts delivered messages and wakes whoever waits for a count. */
class Counter {
  count = 0
  private waiter: { n: number; resolve: () => void } | undefined

  hit(): void {
    this.count++
    if (this.waiter !== undefined && this.count >= this.waiter.n) {
      this.waiter.resolve()
      this.waiter = undefined
    }
  }

  wait(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve()
    return new Promise((resolve) => (this.waiter = { n, resolve }))
  }
}

/**
 * Our side of the bulk transfer; `meters` (one per end) make the senders
 * count what they move; `carrier: 'rlpx'` runs the session over the stack's
 * RLPx (snappy, one frame per message) instead of mplex.
 */
export async function oursSession(payload: Uint8Array, closer: Closer, meters?: Parameters<typeof p2pEthPair>[1], carrier: 'mplex' | 'rlpx' = 'mplex') {
  const pair = await p2pEthPair(await statusSource(), meters, carrier)
  closer.add(() => pair.close())
  const counter = new Counter()
  pair.listener.sender.on('message', (m) => {
    RLP.decode(m.payload as Uint8Array)
    counter.hit()
  })
  const { sender, stream } = pair.dialer
  const send = async (): Promise<void> => {
    sender.sendMessage(CODE, [payload])
    if (stream.writableNeedDrain) await new Promise<void>((resolve) => stream.once('drain', resolve))
  }
  return (sizes: Sizes) => transfer(send, counter, sizes)
}

export async function rlpxSession(payload: Uint8Array, closer: Closer) {
  const pair = await devp2pPair(await statusSource())
  closer.add(() => pair.close())
  const counter = new Counter()
  // devp2p's ETH has already RLP-decoded the payload when it emits the message.
  pair.listener.eth.events.on('message', () => counter.hit())
  const { eth, socket } = pair.dialer
  const send = async (): Promise<void> => {
    eth.sendMessage(CODE, [payload])
    if (socket.writableNeedDrain) await new Promise<void>((resolve) => socket.once('drain', resolve))
  }
  return (sizes: Sizes) => transfer(send, counter, sizes)
}

async function rawTcp(payload: Uint8Array, totalBytes: number): Promise<Transfer> {
  const pair = await tcpPair()
  try {
    let got = 0
    const done = new Promise<void>((resolve) => {
      pair.listener.on('data', (b: Buffer) => {
        got += b.length
        if (got >= totalBytes) resolve()
      })
    })
    const t0 = now()
    await writeRepeated(pair.dialer, payload, totalBytes)
    await withTimeout(done, 120_000, 'TCP receiver')
    return { bytes: totalBytes, ms: now() - t0 }
  } finally {
    await pair.close()
  }
}

interface Ceiling {
  oneSide: number
  bothEnds: number
  aes: number
  mac: number
}

/** The crypto a frame costs: AES-256-CTR over the body, header and body MACs (as the secure channel computes them). */
async function cryptoCeiling(payload: Uint8Array, totalBytes: number): Promise<Ceiling> {
  const engine = await loadKeccakEngine()
  const frame = DEFAULT_MAX_OUTBOUND_FRAME_SIZE
  const body = payload.subarray(0, frame)
  const key = randomBytes(32)
  const frames = Math.ceil(totalBytes / frame)
  const header = new Uint8Array(16)
  const newMac = () => new FrameMac(engine, randomBytes(32), randomBytes(32))
  const time = (fn: () => void): number => {
    const t0 = now()
    for (let i = 0; i < frames; i++) fn()
    return now() - t0
  }
  const enc = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const dec = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const egress = newMac()
  const ingress = newMac()
  const aesMs = time(() => enc.update(body))
  const macMs = time(() => {
    egress.header(header)
    egress.absorb(body)
    egress.finishBody()
  })
  const oneMs = time(() => {
    const ct = enc.update(body)
    egress.header(header)
    egress.absorb(ct)
    egress.finishBody()
  })
  const bothMs = time(() => {
    const ct = enc.update(body)
    egress.header(header)
    egress.absorb(ct)
    egress.finishBody()
    ingress.header(header)
    ingress.absorb(ct)
    ingress.finishBody()
    dec.update(ct)
  })
  const bytes = frames * frame
  return { oneSide: mbPerSec(bytes, oneMs), bothEnds: mbPerSec(bytes, bothMs), aes: mbPerSec(bytes, aesMs), mac: mbPerSec(bytes, macMs) }
}

async function run(ctx: BenchContext) {
  const rounds = roundsFor(ctx, 3, 2)
  const sizes: Sizes = ctx.quick ? { totalBytes: 16 * MiB, capMs: 1_500 } : { totalBytes: 256 * MiB, capMs: 20_000 }
  const payload = noise(MESSAGE_BYTES, 7)
  const closer = new Closer()
  try {
    const ours = await oursSession(payload, closer)
    const rlpx = await rlpxSession(payload, closer)
    const warm: Sizes = { totalBytes: 4 * MiB, capMs: 1_000 }
    const res = await alternate<Transfer>({
      rounds,
      label: 'bulk',
      log: ctx.log,
      warmup: { ours: () => ours(warm), anchor: () => rlpx(warm) },
      ours: () => ours(sizes),
      anchor: () => rlpx(sizes),
    })
    ctx.log('bulk: raw TCP and crypto ceiling')
    const tcp: number[] = []
    const ceilings: Ceiling[] = []
    for (let r = 0; r < rounds; r++) {
      tcp.push(rate(await rawTcp(payload, sizes.totalBytes)))
      ceilings.push(await cryptoCeiling(payload, sizes.totalBytes))
    }
    const oursRate = median(res.ours.map(rate))
    const c = (k: keyof Ceiling): number => median(ceilings.map((x) => x[k]))
    const mib = (ts: Transfer[]): string => `${Math.round(median(ts.map((t) => t.bytes)) / MiB)} MiB`
    return {
      bench: 'bulk',
      rounds,
      headline: 0,
      rows: [
        row({ metric: '1 MiB ETH messages', unit: 'MB/s', better: 'higher', ours: oursRate, anchor: median(res.anchor.map(rate)), anchorName: 'devp2p RLPx ETH', target: 20, note: `ours ${mib(res.ours)}, RLPx ${mib(res.anchor)} per round` }),
        row({ metric: 'share of TCP loopback', unit: 'MB/s', better: 'higher', ours: oursRate, anchor: median(tcp), anchorName: 'raw TCP loopback', note: `${Math.round(sizes.totalBytes / MiB)} MiB` }),
        row({ metric: 'share of crypto ceiling', unit: 'MB/s', better: 'higher', ours: oursRate, anchor: c('bothEnds'), anchorName: 'crypto, both ends', target: 0.5, note: 'both ends on this one thread' }),
        row({ metric: 'share of crypto ceiling', unit: 'MB/s', better: 'higher', ours: oursRate, anchor: c('oneSide'), anchorName: 'crypto, one end', note: 'encrypt + MAC only' }),
      ],
      notes: [
        'MB = 10^6 bytes; rates are medians over rounds; endpoints of every side run in this one process',
        `crypto parts over ${DEFAULT_MAX_OUTBOUND_FRAME_SIZE / 1024} KiB frames: AES-256-CTR ${fmt(c('aes'))} MB/s, frame MAC (keccak engine of src/p2p/crypto) ${fmt(c('mac'))} MB/s`,
        `a side stops at ${Math.round(sizes.totalBytes / MiB)} MiB or after ${sizes.capMs / 1000} s, whichever comes first`,
      ],
    }
  } finally {
    await closer.run()
  }
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1)
}

export const bulk: Bench = {
  name: 'bulk',
  description: '1 MiB ETH messages over one P2P ETH stream vs devp2p RLPx ETH, with raw TCP and the crypto ceiling: MB/s',
  run,
}
