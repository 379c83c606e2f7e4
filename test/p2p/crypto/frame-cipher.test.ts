import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameMacError, FrameTooLargeError } from '../../../src/p2p/crypto/errors'
import { createFrameCodec, type FrameCodec } from '../../../src/p2p/crypto/frame-cipher'
import { loadKeccakEngine } from '../../../src/p2p/crypto/keccak'
import { DEFAULT_MAX_INBOUND_FRAME_SIZE } from '../../../src/p2p/crypto/limits'

/** Two ends of one session: a's egress is b's ingress and vice versa. */
async function codecPair(maxInbound = DEFAULT_MAX_INBOUND_FRAME_SIZE): Promise<[FrameCodec, FrameCodec]> {
  const engine = await loadKeccakEngine()
  const aesSecret = randomBytes(32)
  const macSecret = randomBytes(32)
  const ab = randomBytes(300)
  const ba = randomBytes(280)
  return [
    createFrameCodec(engine, { aesSecret, macSecret, egressMacSeed: ab, ingressMacSeed: ba }, maxInbound),
    createFrameCodec(engine, { aesSecret, macSecret, egressMacSeed: ba, ingressMacSeed: ab }, maxInbound),
  ]
}

function seal(codec: FrameCodec, body: Uint8Array | Uint8Array[]): Buffer {
  const pieces = Array.isArray(body) ? body : [body]
  const size = pieces.reduce((n, p) => n + p.length, 0)
  const out: Uint8Array[] = []
  codec.encoder.encode(pieces, size, out)
  return Buffer.concat(out)
}

function open(codec: FrameCodec, wire: Uint8Array, chunkSizes: number[] = [wire.length]): Buffer {
  const got: Buffer[] = []
  let off = 0
  for (let i = 0; off < wire.length; i++) {
    const n = Math.max(1, chunkSizes[i % chunkSizes.length]!)
    codec.decoder.write(wire.subarray(off, off + n), (p) => got.push(p))
    off += n
  }
  return Buffer.concat(got)
}

describe('RLPx frame cipher', () => {
  it('lays frames out as header (16) + header MAC (16) + body padded to 16 + body MAC (16)', async () => {
    const [a] = await codecPair()
    for (const size of [0, 1, 15, 16, 17, 100, 20_000]) {
      expect(seal(a, randomBytes(size)).length).toBe(32 + Math.ceil(size / 16) * 16 + 16)
    }
  })

  it('round-trips bodies of many sizes, in order, both directions', async () => {
    const [a, b] = await codecPair()
    for (const size of [0, 1, 15, 16, 17, 31, 33, 4096, 16_369, 65_536, 300_001]) {
      const body = randomBytes(size)
      expect(open(b, seal(a, body)).equals(body)).toBe(true)
      const back = randomBytes(size)
      expect(open(a, seal(b, back)).equals(back)).toBe(true)
    }
    expect(b.decoder.midFrame).toBe(false)
  })

  it('joins a multi-piece body (coalesced writes) into one frame', async () => {
    const [a, b] = await codecPair()
    const pieces = [randomBytes(3), randomBytes(1000), randomBytes(0), randomBytes(77)]
    const wire = seal(a, pieces)
    expect(wire.length).toBe(32 + 1088 + 16)
    expect(open(b, wire).equals(Buffer.concat(pieces))).toBe(true)
  })

  it('property: any bodies, any wire chunking, decode byte-exact', async () => {
    const [a, b] = await codecPair()
    await fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
        (bodies, chunking) => {
          const wire = Buffer.concat(bodies.map((body) => seal(a, body)))
          expect(open(b, wire, chunking).equals(Buffer.concat(bodies))).toBe(true)
          expect(b.decoder.midFrame).toBe(false)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('reports midFrame while a frame is incomplete', async () => {
    const [a, b] = await codecPair()
    const wire = seal(a, randomBytes(40))
    b.decoder.write(wire.subarray(0, 10), () => {})
    expect(b.decoder.midFrame).toBe(true)
    b.decoder.write(wire.subarray(10), () => {})
    expect(b.decoder.midFrame).toBe(false)
  })

  it.each([
    ['header', 3, 'header'],
    ['header MAC', 20, 'header'],
    ['body', 40, 'body'],
    ['body MAC', 32 + 48 + 5, 'body'],
  ] as const)('a flipped bit in the %s fails the MAC check', async (_part, offset, which) => {
    const [a, b] = await codecPair()
    const wire = seal(a, randomBytes(48))
    wire[offset]! ^= 0x10
    const got: Buffer[] = []
    let err: unknown
    try {
      b.decoder.write(wire, (p) => got.push(p))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(FrameMacError)
    expect((err as FrameMacError).code).toBe('ERR_ECIES_BAD_MAC')
    expect((err as Error).message).toContain(which)
    expect(got).toHaveLength(0) // nothing unauthenticated is released
  })

  it('frames only verify in order: a replayed or reordered frame fails', async () => {
    const [a, b] = await codecPair()
    const f1 = seal(a, randomBytes(20))
    const f2 = seal(a, randomBytes(20))
    expect(() => b.decoder.write(f2, () => {})).toThrow(FrameMacError)
    const [c, d] = await codecPair()
    const g1 = seal(c, randomBytes(20))
    d.decoder.write(g1, () => {})
    expect(() => d.decoder.write(g1, () => {})).toThrow(FrameMacError)
    expect(f1.length).toBe(f2.length)
  })

  it('rejects a header announcing more than the inbound limit, before any body arrives', async () => {
    const [a, b] = await codecPair(1024)
    const wire = seal(a, randomBytes(1025))
    let err: unknown
    try {
      b.decoder.write(wire.subarray(0, 32), () => {})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(FrameTooLargeError)
    expect((err as FrameTooLargeError).code).toBe('ERR_ECIES_FRAME_TOO_LARGE')
  })

  it('accepts a frame of exactly the inbound limit', async () => {
    const [a, b] = await codecPair(1024)
    const body = randomBytes(1024)
    expect(open(b, seal(a, body)).equals(body)).toBe(true)
  })
})
