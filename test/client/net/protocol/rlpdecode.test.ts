import { RLP } from '@ethereumjs/rlp'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

import { EthCodecError } from '../../../../src/client/net/protocol/errors'
import { MAX_RLP_DEPTH, decodeRlp } from '../../../../src/client/net/protocol/rlpdecode'

import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'

const itemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small' }, fc.uint8Array({ maxLength: 70 }), fc.array(tie('item'), { maxLength: 5 })),
})).item

function depthOf(item: RlpItem): number {
  return Array.isArray(item) ? 1 + Math.max(0, ...item.map(depthOf)) : 0
}

function nested(depth: number): RlpItem {
  let x: RlpItem = []
  for (let i = 1; i < depth; i++) x = [x]
  return x
}

describe('decodeRlp', () => {
  it('decodes whatever @ethereumjs/rlp encodes, identically', () => {
    fc.assert(
      fc.property(itemArb, (item) => {
        fc.pre(depthOf(item) <= MAX_RLP_DEPTH)
        expect(decodeRlp(RLP.encode(item))).toEqual(RLP.decode(RLP.encode(item)))
      }),
      { numRuns: 2000 },
    )
  })

  it('agrees with @ethereumjs/rlp on random bytes: accepts only what it accepts, else EthCodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        let ours: RlpItem | Error
        try {
          ours = decodeRlp(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(EthCodecError)
          ours = err as Error
        }
        let theirs: unknown
        try {
          theirs = RLP.decode(bytes)
        } catch (err) {
          theirs = err
        }
        if (!(ours instanceof Error)) expect(ours).toEqual(theirs)
      }),
      { numRuns: 5000 },
    )
  })

  it('returns views into the input, not copies', () => {
    const bytes = RLP.encode([new Uint8Array(100).fill(7), [Uint8Array.of(1, 2)]])
    const [a] = decodeRlp(bytes) as Uint8Array[]
    expect(a.buffer).toBe(bytes.buffer)
  })

  it('rejects non-canonical forms', () => {
    const cases: [number[], RegExp][] = [
      [[0x81, 0x05], /must not be prefixed/],
      [[0xb8, 0x01, 0x61], /long form used for a short length/],
      [[0xf8, 0x01, 0xc0], /long form used for a short length/],
      [[0xb9, 0x00, 0x40], /leading zero/],
      [[0x83, 0x61], /exceeds/],
      [[0xc2, 0x83, 0x61, 0x62], /exceeds its enclosing list/],
      [[0xbf, 1, 1, 1, 1, 1, 1, 1, 1], /length exceeds input/],
      [[0xc0, 0xc0], /1 trailing bytes/],
    ]
    for (const [bytes, pattern] of cases) expect(() => decodeRlp(Uint8Array.from(bytes))).toThrow(pattern)
  })

  it('bounds nesting depth, without recursion blow-up or quadratic copying', () => {
    expect(decodeRlp(RLP.encode(nested(MAX_RLP_DEPTH)))).toEqual(nested(MAX_RLP_DEPTH))
    expect(() => decodeRlp(RLP.encode(nested(MAX_RLP_DEPTH + 1)))).toThrow(/nested deeper than/)
    expect(() => decodeRlp(RLP.encode(nested(MAX_RLP_DEPTH + 1)))).toThrow(EthCodecError)
  })
})
