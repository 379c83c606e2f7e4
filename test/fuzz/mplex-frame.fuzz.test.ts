import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeUvarint } from '../../src/p2p/codec/uvarint'
import { MplexError } from '../../src/p2p/muxer/errors'
import { encodeFrame, FrameDecoder, type FrameSink, MAX_STREAM_ID, MplexFlag, type StreamId } from '../../src/p2p/muxer/frame'
import { chunksOf, concat, cutsArb, flipBit, fuzzParams } from './fuzz'

const FRAME_ERRORS = {
  type: MplexError,
  codes: ['ERR_MPLEX_INVALID_FLAG', 'ERR_MPLEX_FRAME_TOO_LARGE', 'ERR_MPLEX_INVALID_FRAME'],
} as const

/** What a sink saw, with message pieces of one frame joined (the decoder may split them). */
type Event =
  | { kind: 'new'; id: string; name: string }
  | { kind: 'msg'; id: string; init: boolean; data: string }
  | { kind: 'close' | 'reset'; id: string; init: boolean }

class RecordingSink implements FrameSink {
  readonly events: Event[] = []

  onNewStream(id: StreamId, name: Uint8Array): void {
    this.events.push({ kind: 'new', id: String(id), name: hex(name) })
  }

  onMessage(id: StreamId, fromInitiator: boolean, data: Uint8Array): void {
    expect(data.length).toBeGreaterThan(0)
    this.events.push({ kind: 'msg', id: String(id), init: fromInitiator, data: hex(data) })
  }

  onClose(id: StreamId, fromInitiator: boolean): void {
    this.events.push({ kind: 'close', id: String(id), init: fromInitiator })
  }

  onReset(id: StreamId, fromInitiator: boolean): void {
    this.events.push({ kind: 'reset', id: String(id), init: fromInitiator })
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** Joins consecutive message pieces of the same stream and direction. */
function joined(events: readonly Event[]): Event[] {
  const out: Event[] = []
  for (const e of events) {
    const last = out[out.length - 1]
    if (e.kind === 'msg' && last?.kind === 'msg' && last.id === e.id && last.init === e.init) {
      out[out.length - 1] = { ...last, data: last.data + e.data }
    } else out.push(e)
  }
  return out
}

function decode(chunks: readonly Uint8Array[], maxFrameSize?: number): { events: Event[]; error?: unknown } {
  const sink = new RecordingSink()
  const decoder = new FrameDecoder(sink, maxFrameSize)
  try {
    for (const c of chunks) decoder.push(c)
  } catch (error) {
    return { events: sink.events, error }
  }
  return { events: sink.events }
}

function expectFrameError(err: unknown): void {
  expect(err).toBeInstanceOf(FRAME_ERRORS.type)
  expect(FRAME_ERRORS.codes).toContain((err as MplexError).code)
}

/** Stream ids across the number/bigint boundary (2^53) and up to the largest id a 63-bit header holds. */
const idArb: fc.Arbitrary<StreamId> = fc.oneof(
  fc.nat({ max: 1000 }),
  fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER),
  fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: MAX_STREAM_ID }),
)

interface Frame {
  id: StreamId
  flag: number
  data: Uint8Array
}

const frameArb: fc.Arbitrary<Frame> = fc.record({
  id: idArb,
  flag: fc.integer({ min: 0, max: 6 }),
  data: fc.uint8Array({ maxLength: 200 }),
})

/** What a sink must see for valid frames (close/reset frames carry no data when valid). */
function expectedEvents(frames: readonly Frame[]): Event[] {
  const out: Event[] = []
  for (const { id, flag, data } of frames) {
    const sid = String(id)
    if (flag === MplexFlag.NewStream) out.push({ kind: 'new', id: sid, name: hex(data) })
    else if (flag === MplexFlag.MessageReceiver || flag === MplexFlag.MessageInitiator) {
      if (data.length > 0) out.push({ kind: 'msg', id: sid, init: flag === MplexFlag.MessageInitiator, data: hex(data) })
    } else if (flag === MplexFlag.CloseReceiver || flag === MplexFlag.CloseInitiator) {
      out.push({ kind: 'close', id: sid, init: flag === MplexFlag.CloseInitiator })
    } else out.push({ kind: 'reset', id: sid, init: flag === MplexFlag.ResetInitiator })
  }
  return joined(out)
}

function wireOf(frames: readonly Frame[]): Uint8Array {
  const isControl = (flag: number): boolean => flag >= MplexFlag.CloseReceiver
  return concat(frames.map((f) => encodeFrame(f.id, f.flag, isControl(f.flag) ? undefined : f.data)))
}

describe('fuzz: mplex frame codec', () => {
  it('decodes any chunking of encoded frames to exactly those frames (encode then decode is the identity)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 10 }), cutsArb, (frames, cuts) => {
        const valid = frames.map((f) => (f.flag >= MplexFlag.CloseReceiver ? { ...f, data: new Uint8Array(0) } : f))
        const { events, error } = decode(chunksOf(wireOf(valid), cuts))
        expect(error).toBeUndefined()
        expect(joined(events)).toEqual(expectedEvents(valid))
      }),
      fuzzParams(),
    )
  })

  it('on arbitrary bytes emits frames or throws a typed MplexError, the same for any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), cutsArb, fc.integer({ min: 1, max: 300 }), (bytes, cuts, max) => {
        const chunked = decode(chunksOf(bytes, cuts), max)
        const whole = decode([bytes], max)
        if (chunked.error !== undefined) expectFrameError(chunked.error)
        if (whole.error !== undefined) expectFrameError(whole.error)
        expect(chunked.error === undefined).toBe(whole.error === undefined)
        if (chunked.error !== undefined) expect((chunked.error as MplexError).code).toBe((whole.error as MplexError).code)
        expect(joined(chunked.events)).toEqual(joined(whole.events))
      }),
      fuzzParams(),
    )
  })

  it('on valid frames with one bit flipped: frames or a typed MplexError, never anything else', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.nat(), cutsArb, (frames, bit, cuts) => {
        const wire = flipBit(wireOf(frames), bit)
        const { error } = decode(chunksOf(wire, cuts), 256)
        if (error !== undefined) expectFrameError(error)
      }),
      fuzzParams(),
    )
  })

  it('refuses flag 7 and an oversized length with their own codes before taking any data', () => {
    fc.assert(
      fc.property(idArb, fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 }), (id, max, over) => {
        const flag7 = decode([encodeFrame(id, 7, new Uint8Array(0))])
        expect((flag7.error as MplexError).code).toBe('ERR_MPLEX_INVALID_FLAG')
        const big = encodeFrame(id, MplexFlag.MessageInitiator, new Uint8Array(0))
        // Same header with a length field announcing max + over bytes.
        const header = big.subarray(0, big.length - 1)
        const tooLarge = decode([concat([header, encodeUvarint(max + over)])], max)
        expect(tooLarge.error).toBeInstanceOf(MplexError)
        expect((tooLarge.error as MplexError).code).toBe('ERR_MPLEX_FRAME_TOO_LARGE')
        expect(tooLarge.events).toEqual([])
      }),
      fuzzParams(),
    )
  })
})
