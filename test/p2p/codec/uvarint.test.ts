import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeUvarint,
  decodeUvarintBig,
  encodeUvarint,
  MAX_UVARINT,
  uvarintLength,
  VarintError,
} from '../../../src/p2p/codec/uvarint'

describe('uvarint', () => {
  it('encodes known values', () => {
    expect([...encodeUvarint(0)]).toEqual([0])
    expect([...encodeUvarint(127)]).toEqual([0x7f])
    expect([...encodeUvarint(128)]).toEqual([0x80, 0x01])
    expect([...encodeUvarint(300)]).toEqual([0xac, 0x02])
    expect([...encodeUvarint(2 ** 31)]).toEqual([0x80, 0x80, 0x80, 0x80, 0x08])
  })

  it('round-trips numbers above 2^31 without 32-bit truncation', () => {
    for (const v of [2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      expect(decodeUvarint(encodeUvarint(v))).toEqual({ value: v, bytes: uvarintLength(v) })
    }
  })

  it('round-trips any safe integer (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
        const enc = encodeUvarint(v)
        expect(enc.length).toBe(uvarintLength(v))
        expect(decodeUvarint(enc)).toEqual({ value: v, bytes: enc.length })
      }),
    )
  })

  it('round-trips any 63-bit bigint (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_UVARINT }), (v) => {
        const enc = encodeUvarint(v)
        expect(enc.length).toBeLessThanOrEqual(9)
        expect(decodeUvarintBig(enc)).toEqual({ value: v, bytes: enc.length })
      }),
    )
  })

  it('reports an incomplete varint with bytes === 0', () => {
    expect(decodeUvarint(Uint8Array.of(0x80, 0x80)).bytes).toBe(0)
    expect(decodeUvarintBig(new Uint8Array(0)).bytes).toBe(0)
  })

  it('rejects a varint longer than 9 bytes', () => {
    const tooLong = new Uint8Array(10).fill(0x80)
    expect(() => decodeUvarint(tooLong)).toThrow(VarintError)
    expect(() => decodeUvarintBig(tooLong)).toThrow(VarintError)
    try {
      decodeUvarintBig(tooLong)
    } catch (err) {
      expect((err as VarintError).code).toBe('ERR_VARINT_INVALID')
    }
  })

  it('rejects a well-formed 10-byte varint: it could only encode a value of 2^63 or more', () => {
    // 80 80 80 80 80 80 80 80 80 01 terminates properly (last byte < 0x80) and is 2^63.
    const tenBytes = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
    expect(() => decodeUvarint(tenBytes)).toThrow(VarintError)
    expect(() => decodeUvarintBig(tenBytes)).toThrow(VarintError)
    // Its 9-byte neighbour is the largest accepted encoding.
    expect(decodeUvarintBig(encodeUvarint(MAX_UVARINT))).toEqual({ value: MAX_UVARINT, bytes: 9 })
  })

  it('rejects values that cannot be encoded', () => {
    expect(() => encodeUvarint(-1)).toThrow(VarintError)
    expect(() => encodeUvarint(1.5)).toThrow(VarintError)
    expect(() => encodeUvarint(MAX_UVARINT + 1n)).toThrow(VarintError)
  })

  it('refuses to decode a value above 2^53 as a number', () => {
    expect(() => decodeUvarint(encodeUvarint(2n ** 60n))).toThrow(VarintError)
    expect(decodeUvarintBig(encodeUvarint(2n ** 60n)).value).toBe(2n ** 60n)
  })

  it('never throws anything but VarintError on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        try {
          decodeUvarintBig(bytes)
          decodeUvarint(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(VarintError)
        }
      }),
    )
  })
})
