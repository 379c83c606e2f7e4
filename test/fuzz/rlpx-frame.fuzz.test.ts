import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { EciesError, FrameMacError } from '../../src/p2p/crypto/errors'
import { createFrameCodec, type FrameCodec } from '../../src/p2p/crypto/frame-cipher'
import { type KeccakEngine, loadKeccakEngine } from '../../src/p2p/crypto/keccak'
import { DEFAULT_MAX_INBOUND_FRAME_SIZE } from '../../src/p2p/crypto/limits'
import type { Secrets } from '../../src/p2p/crypto/secrets'
import { chunksOf, concat, cutsArb, flipBit, fuzzParams } from './fuzz'

let engine: KeccakEngine

beforeAll(async () => {
  engine = await loadKeccakEngine()
})

function secrets(): Secrets {
  return { aesSecret: randomBytes(32), macSecret: randomBytes(32), egressMacSeed: randomBytes(64), ingressMacSeed: randomBytes(64) }
}

/** A sender's egress codec and the matching receiver codec of one fresh session. */
function session(maxInbound = DEFAULT_MAX_INBOUND_FRAME_SIZE): { sender: FrameCodec; receiver: FrameCodec } {
  const s = secrets()
  const mirrored: Secrets = { ...s, egressMacSeed: s.ingressMacSeed, ingressMacSeed: s.egressMacSeed }
  return { sender: createFrameCodec(engine, s, maxInbound), receiver: createFrameCodec(engine, mirrored, maxInbound) }
}

/** Seals each body as one frame; returns the wire bytes of every frame. */
function seal(codec: FrameCodec, bodies: readonly Uint8Array[]): Uint8Array[] {
  return bodies.map((body) => {
    const out: Uint8Array[] = []
    codec.encoder.encode([body], body.length, out)
    return concat(out)
  })
}

/** Feeds chunks; returns the authenticated plaintext and the error the decoder stopped with. */
function open(codec: FrameCodec, chunks: readonly Uint8Array[]): { plain: Uint8Array; error?: unknown } {
  const got: Uint8Array[] = []
  try {
    for (const c of chunks) codec.decoder.write(c, (piece) => got.push(Uint8Array.from(piece)))
  } catch (error) {
    return { plain: concat(got), error }
  }
  return { plain: concat(got) }
}

const bodiesArb = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 })

function expectMacError(err: unknown): void {
  expect(err).toBeInstanceOf(FrameMacError)
  expect((err as FrameMacError).code).toBe('ERR_ECIES_BAD_MAC')
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('fuzz: RLPx frames', () => {
  it('decrypts any chunking of sealed frames to exactly the bodies, in order (encode then decode is the identity)', () => {
    fc.assert(
      fc.property(bodiesArb, cutsArb, (bodies, cuts) => {
        const { sender, receiver } = session()
        const { plain, error } = open(receiver, chunksOf(concat(seal(sender, bodies)), cuts))
        expect(error).toBeUndefined()
        expect(hex(plain)).toBe(hex(concat(bodies)))
        expect(receiver.decoder.midFrame).toBe(false)
      }),
      fuzzParams(),
    )
  })

  it('one flipped bit anywhere fails that frame with the MAC error; nothing of it (or after it) is delivered', () => {
    fc.assert(
      fc.property(bodiesArb, fc.nat(), fc.nat(), cutsArb, (bodies, frameIndex, bit, cuts) => {
        const { sender, receiver } = session()
        const frames = seal(sender, bodies)
        const k = frameIndex % frames.length
        frames[k] = flipBit(frames[k]!, bit)
        const { plain, error } = open(receiver, chunksOf(concat(frames), cuts))
        expectMacError(error)
        // Exactly the bodies before the damaged frame: no garbage, no partial body.
        expect(hex(plain)).toBe(hex(concat(bodies.slice(0, k))))
      }),
      fuzzParams(),
    )
  })

  it('frames replayed, reordered or from another session fail with the MAC error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 2, maxLength: 5 }), fc.constantFrom('replay', 'swap', 'foreign'), (bodies, how) => {
        const { sender, receiver } = session()
        const frames = seal(sender, bodies)
        let wire: Uint8Array[]
        if (how === 'replay') wire = [frames[0]!, frames[0]!]
        else if (how === 'swap') wire = [frames[1]!, frames[0]!]
        else wire = seal(session().sender, bodies)
        const { plain, error } = open(receiver, wire)
        expectMacError(error)
        expect(hex(plain)).toBe(how === 'replay' ? hex(bodies[0]!) : '')
      }),
      fuzzParams(),
    )
  })

  it('random bytes never decrypt: a MAC error or "need more bytes", and nothing is delivered', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), cutsArb, (bytes, cuts) => {
        const { receiver } = session()
        const { plain, error } = open(receiver, chunksOf(bytes, cuts))
        expect(plain.length).toBe(0)
        if (bytes.length >= 32) expectMacError(error)
        else expect(error).toBeUndefined()
      }),
      fuzzParams(),
    )
  })

  it('a stream cut inside a frame delivers the whole frames before the cut and reports midFrame, with no error', () => {
    fc.assert(
      fc.property(bodiesArb, fc.nat(), (bodies, cutAt) => {
        const { sender, receiver } = session()
        const frames = seal(sender, bodies)
        const wire = concat(frames)
        const cut = cutAt % (wire.length + 1)
        const { plain, error } = open(receiver, [wire.subarray(0, cut)])
        expect(error).toBeUndefined()
        let end = 0
        let whole = 0
        while (whole < frames.length && end + frames[whole]!.length <= cut) end += frames[whole++]!.length
        expect(hex(plain)).toBe(hex(concat(bodies.slice(0, whole))))
        expect(receiver.decoder.midFrame).toBe(cut > end)
      }),
      fuzzParams(),
    )
  })

  it('a frame announcing more than the inbound limit is refused with a typed error before its body is read', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 512 }), (limit, over) => {
        const { sender, receiver } = session(limit)
        const [frame] = seal(sender, [new Uint8Array(limit + over)])
        // Header and header MAC only: the size check must not need the body.
        const { error } = open(receiver, [frame!.subarray(0, 32)])
        expect(error).toBeInstanceOf(EciesError)
        expect((error as EciesError).code).toBe('ERR_ECIES_FRAME_TOO_LARGE')
      }),
      fuzzParams(),
    )
  })
})
