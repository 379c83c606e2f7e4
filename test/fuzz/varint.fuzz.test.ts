import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeUvarint,
  decodeUvarintBig,
  encodeUvarint,
  MAX_UVARINT,
  MAX_UVARINT_BYTES,
  uvarintLength,
  VarintError,
  writeUvarint,
} from '../../src/p2p/codec/uvarint'
import { fuzzParams, onlyTyped } from './fuzz'

const VARINT = { type: VarintError, codes: ['ERR_VARINT_INVALID'] } as const

/** Bytes biased towards continuation bits, so long and unfinished varints are common. */
const varintishBytes = fc.array(fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0xff })), {
  maxLength: 2 * MAX_UVARINT_BYTES + 2,
})

describe('fuzz: uvarint', () => {
  it('decodeUvarint / decodeUvarintBig on arbitrary bytes: a value, "incomplete", or VarintError', () => {
    fc.assert(
      fc.property(varintishBytes, fc.nat({ max: 4 }), (arr, offset) => {
        const buf = Uint8Array.from(arr)
        const big = onlyTyped(VARINT, () => decodeUvarintBig(buf, offset))
        const num = onlyTyped(VARINT, () => decodeUvarint(buf, offset))
        const rest = buf.subarray(Math.min(offset, buf.length))
        if (big === undefined) {
          // Only an over-long varint fails the bigint decoder: 9 continuation bytes in a row.
          expect(rest.length).toBeGreaterThanOrEqual(MAX_UVARINT_BYTES)
          expect(rest.subarray(0, MAX_UVARINT_BYTES).every((b) => b >= 0x80)).toBe(true)
          expect(num).toBeUndefined()
          return
        }
        if (big.bytes === 0) {
          // Incomplete: every remaining byte continues, and there are fewer than 9.
          expect(rest.length).toBeLessThan(MAX_UVARINT_BYTES)
          expect(rest.every((b) => b >= 0x80)).toBe(true)
          expect(num).toEqual({ value: 0, bytes: 0 })
          return
        }
        expect(big.bytes).toBeLessThanOrEqual(MAX_UVARINT_BYTES)
        expect(big.value).toBeLessThanOrEqual(MAX_UVARINT)
        expect(rest[big.bytes - 1]! < 0x80).toBe(true)
        if (big.value <= BigInt(Number.MAX_SAFE_INTEGER)) expect(num).toEqual({ value: Number(big.value), bytes: big.bytes })
        else expect(num).toBeUndefined() // beyond 2^53 - 1 the number decoder refuses, typed
      }),
      fuzzParams(),
    )
  })

  it('encode then decode is the identity on every safe integer', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.maxSafeNat()), fc.nat({ max: 3 }), (value, offset) => {
        const enc = encodeUvarint(value)
        expect(enc.length).toBe(uvarintLength(value))
        const buf = new Uint8Array(offset + enc.length + 2).fill(0xff)
        expect(writeUvarint(value, buf, offset)).toBe(offset + enc.length)
        expect(decodeUvarint(buf, offset)).toEqual({ value, bytes: enc.length })
        expect(decodeUvarintBig(enc)).toEqual({ value: BigInt(value), bytes: enc.length })
      }),
      fuzzParams(),
    )
  })

  it('encode then decode is the identity on every bigint up to 2^63 - 1', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_UVARINT }), (value) => {
        const enc = encodeUvarint(value)
        expect(enc.length).toBe(uvarintLength(value))
        expect(enc.length).toBeLessThanOrEqual(MAX_UVARINT_BYTES)
        expect(decodeUvarintBig(enc)).toEqual({ value, bytes: enc.length })
        // Every proper prefix is "incomplete", never an error or a wrong value.
        for (let n = 0; n < enc.length; n++) expect(decodeUvarintBig(enc.subarray(0, n)).bytes).toBe(0)
      }),
      fuzzParams(),
    )
  })

  it('encoders refuse what cannot be a varint with VarintError', () => {
    const bad = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER + 1, Infinity, -Infinity, Number.NaN),
      fc.bigInt({ max: -1n }),
      fc.bigInt({ min: MAX_UVARINT + 1n, max: MAX_UVARINT * 4n }),
    )
    fc.assert(
      fc.property(bad, (value) => {
        let thrown: unknown
        try {
          encodeUvarint(value)
        } catch (err) {
          thrown = err
        }
        expect(thrown).toBeInstanceOf(VarintError)
        expect((thrown as VarintError).code).toBe('ERR_VARINT_INVALID')
      }),
      fuzzParams(),
    )
  })
})
