/**
 * snappy: the RLPx message compression of src/p2p/rlpx/snappy.ts (our own
 * codec: snappy's block compressor, and a decompressor that checks the
 * stream as it decodes) against the native `snappy` package (napi-rs,
 * prebuilt binaries) and against snappyjs (pure JS, what @ethereumjs/devp2p
 * calls, unchecked). Raw snappy block format, as RLPx v5 uses it, on
 * in-memory buffers: MB/s of uncompressed bytes.
 *
 * Payloads: "blocks", transaction-like RLP records (random signatures and
 * values between repeated fields, ~0.6 compression ratio), at 100 B (a
 * request), 4 KiB (an announcement) and 1 MiB (a bodies response); and
 * 1 MiB of random bytes (incompressible, the literal path).
 *
 * This bench chose the codec (issue 14): pure JavaScript, so it installs
 * with `npm ci` everywhere, and at least as fast as snappyjs on every row
 * under both runtimes.
 */
import { randomBytes } from 'node:crypto'

import * as native from 'snappy'
import * as snappyjs from 'snappyjs'

import { snappyCompress, snappyUncompress } from '../src/p2p/rlpx/snappy'
import { type Bench, type BenchContext, roundsFor } from './lib/bench'
import { row, type Row } from './lib/report'
import { alternate } from './lib/rounds'
import { mbPerSec, median, now } from './lib/stats'

const MAX = 16 * 1024 * 1024

interface Case {
  name: string
  data: Uint8Array
}

/** Transaction-like records: nonce, fixed gas fields, one of a few recipients, random value, data and signature. */
function blockLike(size: number): Uint8Array {
  const out = Buffer.alloc(size)
  const recipients = Array.from({ length: 8 }, () => randomBytes(20))
  let o = 0
  for (let i = 0; o < size; i++) {
    const record = Buffer.concat([
      Buffer.from([0xf8, 0x6c, 0x82, i >> 8, i & 0xff, 0x85, 0x04, 0xa8, 0x17, 0xc8, 0x00, 0x82, 0x52, 0x08, 0x94]),
      recipients[i % recipients.length]!,
      Buffer.from([0x88]),
      randomBytes(8),
      Buffer.from([0x80, 0x25, 0xa0]),
      randomBytes(32),
      Buffer.from([0xa0]),
      randomBytes(32),
    ])
    o += record.copy(out, o)
  }
  return out
}

interface Codec {
  compress(data: Uint8Array): Uint8Array
  uncompress(data: Uint8Array): Uint8Array
}

const ours: Codec = { compress: snappyCompress, uncompress: (d) => snappyUncompress(d, MAX) }
const napi: Codec = {
  compress: (d) => native.compressSync(d),
  uncompress: (d) => native.uncompressSync(d, { asBuffer: true }) as Buffer,
}
const bare: Codec = { compress: (d) => snappyjs.compress(d), uncompress: (d) => snappyjs.uncompress(d) }

/** MB/s of uncompressed bytes for `op`, run for about `ms`. */
function rate(bytes: number, op: () => unknown, ms: number): number {
  let n = 0
  const t0 = now()
  let elapsed = 0
  do {
    op()
    n++
    elapsed = now() - t0
  } while (elapsed < ms)
  return mbPerSec(bytes * n, elapsed)
}

async function compare(ctx: BenchContext, c: Case, mine: Codec, theirs: Codec, theirsName: string, rounds: number, ms: number): Promise<Row[]> {
  const packed = napi.compress(c.data)
  for (const codec of [mine, theirs]) {
    if (!Buffer.from(codec.uncompress(packed)).equals(Buffer.from(c.data))) throw new Error(`${c.name}: round trip failed`)
    if (!Buffer.from(napi.uncompress(codec.compress(c.data))).equals(Buffer.from(c.data))) throw new Error(`${c.name}: cross-decoding failed`)
  }
  const run = (codec: Codec) => async () => ({
    compress: rate(c.data.length, () => codec.compress(c.data), ms),
    uncompress: rate(c.data.length, () => codec.uncompress(packed), ms),
  })
  const res = await alternate({ rounds, ours: run(mine), anchor: run(theirs), warmup: { ours: run(mine), anchor: run(theirs) }, log: ctx.log, label: `${c.name} vs ${theirsName}` })
  const ratio = (packed.length / c.data.length).toFixed(2)
  return (['compress', 'uncompress'] as const).map((op) =>
    row({
      metric: `${op} ${c.name}`,
      unit: 'MB/s',
      better: 'higher',
      ours: median(res.ours.map((r) => r[op])),
      anchor: median(res.anchor.map((r) => r[op])),
      anchorName: theirsName,
      note: `${c.data.length} B, ratio ${ratio}`,
    }),
  )
}

export const snappy: Bench = {
  name: 'snappy',
  description: 'RLPx snappy codec (ours: block compressor, checking decompressor) vs native snappy (napi-rs) and snappyjs',
  async run(ctx) {
    const rounds = roundsFor(ctx, 5, 2)
    const ms = ctx.quick ? 40 : 300
    const cases: Case[] = [
      { name: 'blocks 100 B', data: blockLike(100) },
      { name: 'blocks 4 KiB', data: blockLike(4096) },
      { name: 'blocks 1 MiB', data: blockLike(1 << 20) },
      { name: 'random 1 MiB', data: randomBytes(1 << 20) },
    ]
    const rows: Row[] = []
    for (const c of cases) rows.push(...(await compare(ctx, c, ours, napi, 'native snappy', rounds, ms)))
    // Against the pure-JS codec devp2p uses (which checks nothing on decompression).
    for (const c of cases) rows.push(...(await compare(ctx, c, ours, bare, 'snappyjs', rounds, ms)))
    return {
      bench: 'snappy',
      rounds,
      rows,
      headline: rows.findIndex((r) => r.metric === 'uncompress blocks 1 MiB'),
      notes: [
        'ours = src/p2p/rlpx/snappy.ts: 64 KiB blocks, literals moved with set(); decompression checks the length header, bounds and offsets as it decodes',
        'native snappy = the `snappy` npm package (napi-rs, prebuilt binary), compressSync / uncompressSync',
        'snappyjs rows: the pure-JS codec @ethereumjs/devp2p uses, decompression unchecked',
      ],
    }
  },
}
