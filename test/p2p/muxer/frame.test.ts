import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeUvarint } from '../../../src/p2p/codec/uvarint'
import {
  MplexFrameTooLargeError,
  MplexInvalidFlagError,
  MplexInvalidFrameError,
} from '../../../src/p2p/muxer/errors'
import {
  encodeFrame,
  FrameDecoder,
  type FrameSink,
  MAX_FRAME_SIZE,
  MAX_STREAM_ID,
  MplexFlag,
  type StreamId,
} from '../../../src/p2p/muxer/frame'

interface Decoded {
  id: StreamId
  flag: number
  data: Buffer
}

/** Collects frames; message pieces of one frame are joined (they arrive piecewise). */
function collector(): { sink: FrameSink; frames: Decoded[]; flushMessage: () => void } {
  const frames: Decoded[] = []
  let current: { id: StreamId; flag: number; parts: Uint8Array[] } | undefined
  const flushMessage = (): void => {
    if (current) frames.push({ id: current.id, flag: current.flag, data: Buffer.concat(current.parts) })
    current = undefined
  }
  const sink: FrameSink = {
    onNewStream: (id, name) => {
      flushMessage()
      frames.push({ id, flag: MplexFlag.NewStream, data: Buffer.from(name) })
    },
    onMessage: (id, fromInitiator, data) => {
      const flag = fromInitiator ? MplexFlag.MessageInitiator : MplexFlag.MessageReceiver
      if (!current || current.id !== id || current.flag !== flag) {
        flushMessage()
        current = { id, flag, parts: [] }
      }
      current.parts.push(Buffer.from(data))
    },
    onClose: (id, fromInitiator) => {
      flushMessage()
      frames.push({ id, flag: fromInitiator ? 4 : 3, data: Buffer.alloc(0) })
    },
    onReset: (id, fromInitiator) => {
      flushMessage()
      frames.push({ id, flag: fromInitiator ? 6 : 5, data: Buffer.alloc(0) })
    },
  }
  return { sink, frames, flushMessage }
}

const idArb = fc.oneof(
  fc.integer({ min: 0, max: 1000 }),
  fc.integer({ min: 2 ** 31 - 2, max: 2 ** 33 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: MAX_STREAM_ID }),
)

const frameArb = fc.record({
  id: idArb,
  flag: fc.integer({ min: 0, max: 6 }),
  data: fc.uint8Array({ minLength: 0, maxLength: 300 }),
})

describe('mplex frame codec', () => {
  it('encodes the header as uvarint(id << 3 | flag) uvarint(length)', () => {
    expect([...encodeFrame(0, MplexFlag.NewStream, Buffer.from('a'))]).toEqual([0x00, 0x01, 0x61])
    expect([...encodeFrame(1, MplexFlag.MessageInitiator, Buffer.from([9, 9]))]).toEqual([0x0a, 0x02, 9, 9])
    expect([...encodeFrame(17, MplexFlag.CloseReceiver)]).toEqual([0x8b, 0x01, 0x00])
    // id 2^31: header 2^34 + 6 needs 5 bytes; a 32-bit shift would have wrapped to 6.
    expect([...encodeFrame(2 ** 31, MplexFlag.ResetInitiator)]).toEqual([...encodeUvarint(2 ** 34 + 6), 0])
  })

  it('round-trips any frame sequence split at any points (property)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        // A message frame with no data produces no callbacks; normalize the expectation.
        const frames = input.map((f) => ({
          ...f,
          id: typeof f.id === 'bigint' && f.id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(f.id) : f.id,
          data: f.flag === 0 || f.flag === 1 || f.flag === 2 ? Buffer.from(f.data) : Buffer.alloc(0),
        }))
        const wire = Buffer.concat(frames.map((f) => encodeFrame(f.id, f.flag, f.data)))
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
        const { sink, frames: out, flushMessage } = collector()
        const decoder = new FrameDecoder(sink)
        let prev = 0
        for (const p of [...points, wire.length]) {
          decoder.push(wire.subarray(prev, p))
          prev = p
        }
        flushMessage()
        const expected = mergeAdjacentMessages(frames.filter((f) => !((f.flag === 1 || f.flag === 2) && f.data.length === 0)))
        expect(out).toEqual(expected)
      }),
      { numRuns: 300 },
    )
  })

  it('decodes stream ids above 2^31 and 2^53 exactly', () => {
    const { sink, frames } = collector()
    const decoder = new FrameDecoder(sink)
    decoder.push(encodeFrame(2 ** 31 + 5, MplexFlag.CloseInitiator))
    decoder.push(encodeFrame(2 ** 40, MplexFlag.ResetReceiver))
    decoder.push(encodeFrame(2n ** 59n + 3n, MplexFlag.CloseReceiver))
    expect(frames.map((f) => f.id)).toEqual([2 ** 31 + 5, 2 ** 40, 2n ** 59n + 3n])
    expect(frames.map((f) => f.flag)).toEqual([4, 5, 3])
  })

  it('rejects flag 7 with MplexInvalidFlagError', () => {
    const decoder = new FrameDecoder(collector().sink)
    const header = Buffer.from([...encodeUvarint(3 * 8 + 7), 0])
    expect(() => decoder.push(header)).toThrow(MplexInvalidFlagError)
    try {
      new FrameDecoder(collector().sink).push(header)
    } catch (err) {
      expect((err as MplexInvalidFlagError).code).toBe('ERR_MPLEX_INVALID_FLAG')
    }
  })

  it('rejects a frame over the size limit from its header alone', () => {
    const { sink, frames } = collector()
    const decoder = new FrameDecoder(sink)
    const header = Buffer.from([...encodeUvarint(1 * 8 + 2), ...encodeUvarint(MAX_FRAME_SIZE + 1)])
    expect(() => decoder.push(header)).toThrow(MplexFrameTooLargeError)
    expect(frames).toEqual([])
    // Exactly the limit is fine.
    const ok = new FrameDecoder(collector().sink)
    expect(() => ok.push(Buffer.from([...encodeUvarint(10), ...encodeUvarint(MAX_FRAME_SIZE)]))).not.toThrow()
  })

  it('rejects an over-long header varint with MplexInvalidFrameError', () => {
    const decoder = new FrameDecoder(collector().sink)
    expect(() => decoder.push(Buffer.alloc(10, 0x80))).toThrow(MplexInvalidFrameError)
    // Split across chunks, byte by byte.
    const split = new FrameDecoder(collector().sink)
    expect(() => {
      for (let i = 0; i < 10; i++) split.push(Buffer.from([0x80]))
    }).toThrow(MplexInvalidFrameError)
  })

  it('rejects a well-formed 10-byte header varint with MplexInvalidFrameError', () => {
    const tenBytes = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00])
    expect(() => new FrameDecoder(collector().sink).push(tenBytes)).toThrow(MplexInvalidFrameError)
  })

  it('hands message data on without copying it', () => {
    const seen: Uint8Array[] = []
    const decoder = new FrameDecoder({
      onNewStream: () => {},
      onMessage: (_id, _from, data) => seen.push(data),
      onClose: () => {},
      onReset: () => {},
    })
    const payload = Buffer.alloc(1000, 7)
    const wire = Buffer.from(encodeFrame(1, MplexFlag.MessageReceiver, payload))
    decoder.push(wire)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.buffer).toBe(wire.buffer)
  })
})

function mergeAdjacentMessages(frames: Decoded[]): Decoded[] {
  const out: Decoded[] = []
  for (const f of frames) {
    const last = out[out.length - 1]
    if (last && (f.flag === 1 || f.flag === 2) && last.flag === f.flag && last.id === f.id) {
      last.data = Buffer.concat([last.data, f.data])
    } else out.push({ ...f })
  }
  return out
}
