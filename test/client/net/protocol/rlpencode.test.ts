import { type Input, RLP } from '@ethereumjs/rlp'
import { describe, expect, it } from 'vitest'
import { EthEncodeError } from '../../../../src/client/net/protocol/errors'
import { encodeRlp } from '../../../../src/client/net/protocol/rlpencode'
import { prng as rng } from '../../../utils/prng'

function randomInput(r: () => number, depth: number): Input {
  const k = r()
  // now and then a list long enough (> 55 bytes) to take the long header form
  if (depth > 0 && k < 0.3) return Array.from({ length: Math.floor(r() * (r() < 0.05 ? 60 : 5)) }, () => randomInput(r, depth - 1))
  if (k < 0.55) {
    // byte strings around every length boundary: 0, 1 (< and >= 0x80), 55, 56, 255, 256, 65536
    const lens = [0, 1, 2, 55, 56, 57, 255, 256, 1024]
    const len = r() < 0.7 ? lens[Math.floor(r() * lens.length)]! : Math.floor(r() * 300)
    return Uint8Array.from({ length: len }, () => Math.floor(r() * 256))
  }
  if (k < 0.7) return Math.floor(r() * 2 ** (r() * 53))
  if (k < 0.8) return BigInt(Math.floor(r() * 2 ** 40)) ** BigInt(1 + Math.floor(r() * 6))
  if (k < 0.9) return r() < 0.5 ? `0x${Math.floor(r() * 2 ** 44).toString(16)}` : 'ascii and ünïcødé'.slice(0, Math.floor(r() * 17))
  return r() < 0.5 ? null : undefined
}

describe('encodeRlp', () => {
  it('is byte-identical to @ethereumjs/rlp on random trees (2,000 seeds)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const input = randomInput(rng(seed), 4)
      const same = Buffer.from(encodeRlp(input)).equals(Buffer.from(RLP.encode(input)))
      expect(same, `seed ${seed}`).toBe(true)
    }
  })

  it('encodes the length boundaries exactly', () => {
    const same = (input: Input) => Buffer.from(encodeRlp(input)).equals(Buffer.from(RLP.encode(input)))
    for (const len of [0, 1, 55, 56, 255, 256, 65_535, 65_536]) {
      const bytes = new Uint8Array(len).fill(0xaa)
      expect(same(bytes), `${len} bytes`).toBe(true)
      expect(same([bytes, [bytes]]), `list of ${len} bytes`).toBe(true)
    }
    expect(encodeRlp(new Uint8Array([0x7f]))).toEqual(new Uint8Array([0x7f]))
    expect(encodeRlp(new Uint8Array([0x80]))).toEqual(new Uint8Array([0x81, 0x80]))
    expect(encodeRlp([])).toEqual(new Uint8Array([0xc0]))
    expect(encodeRlp(0)).toEqual(new Uint8Array([0x80]))
    expect(encodeRlp(0n)).toEqual(new Uint8Array([0x80]))
    expect(encodeRlp(1024)).toEqual(new Uint8Array([0x82, 0x04, 0x00]))
  })

  it('refuses values RLP cannot carry with EthEncodeError', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60, -1n, '0xzz', true as unknown as Input, {} as unknown as Input]) {
      expect(() => encodeRlp([new Uint8Array(1), bad]), String(bad)).toThrow(EthEncodeError)
    }
  })
})
