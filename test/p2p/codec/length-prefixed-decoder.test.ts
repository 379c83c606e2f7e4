import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  DEFAULT_MAX_MESSAGE_LENGTH,
  encodeMessage,
  LengthPrefixedDecoder,
  MessageTooLargeError,
} from '../../../src/p2p/codec/length-prefixed'
import { encodeUvarint, VarintError } from '../../../src/p2p/codec/uvarint'

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  return out
}

function random(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('LengthPrefixedDecoder', () => {
  it('defaults to a 10 MiB maximum', () => {
    expect(DEFAULT_MAX_MESSAGE_LENGTH).toBe(10 * 1024 * 1024)
    expect(new LengthPrefixedDecoder().maxLength).toBe(DEFAULT_MAX_MESSAGE_LENGTH)
  })

  it('decodes many messages from one chunk, including empty ones', () => {
    const msgs = [Uint8Array.of(1, 2, 3), new Uint8Array(0), random(300), Uint8Array.of(9)]
    const decoder = new LengthPrefixedDecoder()
    const out = decoder.push(concat(msgs.map((m) => encodeMessage(m))))
    expect(out.map((m) => [...m])).toEqual(msgs.map((m) => [...m]))
    expect(decoder.bufferedBytes).toBe(0)
  })

  it('returns a message inside one chunk as a view of it, without copying', () => {
    const chunk = encodeMessage(random(1000))
    const [msg] = new LengthPrefixedDecoder().push(chunk)
    expect(msg!.buffer).toBe(chunk.buffer)
    expect(msg!.byteOffset).toBe(chunk.byteOffset + 2)
  })

  it('assembles a 1 MiB message split over a thousand chunks with one allocation', () => {
    const payload = random(1024 * 1024, 7)
    const chunks = split(encodeMessage(payload), Array.from({ length: 1000 }, (_, i) => i * 1049 + 1))
    expect(chunks.length).toBeGreaterThan(900)
    const decoder = new LengthPrefixedDecoder()
    const alloc = vi.spyOn(Buffer, 'allocUnsafe')
    const out: Uint8Array[] = []
    for (const c of chunks) out.push(...decoder.push(c))
    expect(out).toHaveLength(1)
    expect(Buffer.compare(out[0]!, payload)).toBe(0)
    expect(alloc).toHaveBeenCalledTimes(1)
    expect(alloc).toHaveBeenCalledWith(payload.length)
  })

  it('decodes a prefix split byte by byte', () => {
    const payload = random(70_000, 3) // 3-byte prefix
    const encoded = encodeMessage(payload)
    const decoder = new LengthPrefixedDecoder()
    for (let i = 0; i < 3; i++) expect(decoder.push(encoded.subarray(i, i + 1))).toEqual([])
    const out = decoder.push(encoded.subarray(3))
    expect(out).toHaveLength(1)
    expect(Buffer.compare(out[0]!, payload)).toBe(0)
  })

  it('pulls one message at a time with append/next', () => {
    const decoder = new LengthPrefixedDecoder()
    decoder.append(concat([encodeMessage(Uint8Array.of(1)), encodeMessage(Uint8Array.of(2, 2))]))
    expect([...decoder.next()!]).toEqual([1])
    expect([...decoder.next()!]).toEqual([2, 2])
    expect(decoder.next()).toBeUndefined()
  })

  it('rejects an over-long length as soon as the prefix is known, before any payload', () => {
    const decoder = new LengthPrefixedDecoder({ maxLength: 100 })
    let err: unknown
    try {
      decoder.push(encodeUvarint(101)) // the prefix alone, no payload bytes at all
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(MessageTooLargeError)
    expect((err as MessageTooLargeError).code).toBe('ERR_MESSAGE_TOO_LARGE')
    expect((err as MessageTooLargeError).length).toBe(101)
    // The failure is sticky.
    expect(() => decoder.push(Uint8Array.of(0))).toThrow(MessageTooLargeError)
  })

  it('delivers the messages completed before a bad prefix in the same chunk, then throws on the next call', () => {
    const decoder = new LengthPrefixedDecoder({ maxLength: 100 })
    const good = [random(3, 1), random(50, 2)]
    const chunk = concat([...good.map((m) => encodeMessage(m)), encodeUvarint(101), random(5, 3)])
    const got = decoder.push(chunk)
    expect(got.map((m) => Buffer.from(m).toString('hex'))).toEqual(good.map((m) => Buffer.from(m).toString('hex')))
    expect(decoder.failure).toBeInstanceOf(MessageTooLargeError)
    expect(() => decoder.push(Uint8Array.of(0))).toThrow(decoder.failure!)
    expect(() => decoder.next()).toThrow(MessageTooLargeError)
  })

  it('delivers the messages before a malformed varint too; with none before it, push throws at once', () => {
    const decoder = new LengthPrefixedDecoder()
    const got = decoder.push(concat([encodeMessage(random(4)), new Uint8Array(10).fill(0x80)]))
    expect(got).toHaveLength(1)
    expect(decoder.failure).toBeInstanceOf(VarintError)
    const fresh = new LengthPrefixedDecoder({ maxLength: 100 })
    expect(() => fresh.push(encodeUvarint(101))).toThrow(MessageTooLargeError)
    expect(fresh.failure).toBeInstanceOf(MessageTooLargeError)
    expect(new LengthPrefixedDecoder().failure).toBeUndefined()
  })

  it('accepts a message of exactly maxLength', () => {
    const decoder = new LengthPrefixedDecoder({ maxLength: 100 })
    expect(decoder.push(encodeMessage(random(100)))).toHaveLength(1)
  })

  it('rejects a varint prefix longer than 9 bytes with VarintError', () => {
    const decoder = new LengthPrefixedDecoder()
    expect(() => decoder.push(new Uint8Array(10).fill(0x80))).toThrow(VarintError)
  })

  it('rejects a well-formed 10-byte prefix with VarintError, whole or split', () => {
    const tenBytes = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
    expect(() => new LengthPrefixedDecoder().push(tenBytes)).toThrow(VarintError)
    const split = new LengthPrefixedDecoder()
    expect(split.push(tenBytes.subarray(0, 5))).toEqual([])
    expect(() => split.push(tenBytes.subarray(5))).toThrow(VarintError)
  })

  it('hands back unconsumed bytes, prefix included, with takeBuffered', () => {
    const decoder = new LengthPrefixedDecoder()
    const second = encodeMessage(random(50))
    const out = decoder.push(concat([encodeMessage(Uint8Array.of(5)), second.subarray(0, 20)]))
    expect(out).toHaveLength(1)
    decoder.push(second.subarray(20, 30))
    expect(decoder.bufferedBytes).toBe(30)
    expect(Buffer.compare(Buffer.concat(decoder.takeBuffered()), second.subarray(0, 30))).toBe(0)
    expect(decoder.bufferedBytes).toBe(0)
    expect(decoder.push(second)).toHaveLength(1)
  })

  it('round-trips arbitrary message lists under arbitrary chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (msgs, cuts) => {
          const stream = concat(msgs.map((m) => encodeMessage(m)))
          const decoder = new LengthPrefixedDecoder({ maxLength: 600 })
          const out: Uint8Array[] = []
          for (const c of split(stream, cuts)) out.push(...decoder.push(c))
          expect(out.map((m) => Buffer.from(m).toString('hex'))).toEqual(
            msgs.map((m) => Buffer.from(m).toString('hex')),
          )
          expect(decoder.bufferedBytes).toBe(0)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('throws nothing but its typed errors on random bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 0, max: 3000 }),
        (bytes, cuts, maxLength) => {
          const decoder = new LengthPrefixedDecoder({ maxLength })
          try {
            for (const c of split(bytes, cuts)) {
              for (const m of decoder.push(c)) expect(m.length).toBeLessThanOrEqual(maxLength)
            }
          } catch (err) {
            expect(err instanceof MessageTooLargeError || err instanceof VarintError).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
