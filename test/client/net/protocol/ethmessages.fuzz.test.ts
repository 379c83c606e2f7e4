import { RLP } from '@ethereumjs/rlp'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'

import { EthCodecError } from '../../../../src/client/net/protocol/errors'
import {
  ETH_VERSIONS,
  EthCode,
  type EthMessageName,
  decodeEthPayload,
  decodeStatus,
  encodeEthPayload,
} from '../../../../src/client/net/protocol/ethmessages'
import { loadTestChain, sampleMessages } from './fixtures'

import type { Common } from '@ethereumjs/common'
import type { RlpItem } from '../../../../src/client/net/protocol/rlpfields'
import type { TestChain } from '../../../../src/client/testing/testchain'

let common: Common
let chain: TestChain

beforeAll(async () => {
  ;({ common, chain } = await loadTestChain())
})

/** Every code 0x00..0x12 (valid or not) on every version. */
const codeArb = fc.integer({ min: 0, max: 0x12 })
const versionArb = fc.constantFrom(...ETH_VERSIONS)

/** Byte strings biased to the lengths the codec cares about. */
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(0, 1, 4, 8, 9, 20, 32, 33, 256).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
)

const itemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, bytesArb, fc.array(tie('item'), { maxLength: 6 })),
})).item

/** Decoding must either succeed or throw EthCodecError, nothing else. */
function onlyCodecErrors(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof EthCodecError)) throw new Error(`non-codec error escaped: ${String(err)}`, { cause: err })
    expect(err.code).toBe('ERR_ETH_DECODE')
  }
}

/** RLP of `depth` lists each holding the next, the innermost empty. */
function nestedListBytes(depth: number): Uint8Array {
  const sizes = [1]
  for (let i = 1; i < depth; i++) sizes.push(sizes[i - 1] + prefixLength(sizes[i - 1]))
  const out = new Uint8Array(sizes[depth - 1])
  let pos = 0
  for (let i = depth - 1; i >= 1; i--) pos = writeListPrefix(out, pos, sizes[i - 1])
  out[pos] = 0xc0
  return out
}

function prefixLength(payload: number): number {
  if (payload < 56) return 1
  return 1 + Math.ceil(payload.toString(16).length / 2)
}

function writeListPrefix(out: Uint8Array, pos: number, payload: number): number {
  if (payload < 56) {
    out[pos] = 0xc0 + payload
    return pos + 1
  }
  let hex = payload.toString(16)
  if (hex.length % 2) hex = `0${hex}`
  out[pos] = 0xf7 + hex.length / 2
  for (let i = 0; i < hex.length / 2; i++) out[pos + 1 + i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return pos + 1 + hex.length / 2
}

/** Replaces the node at a random path of `item` with `replacement`. */
function mutate(item: RlpItem, path: number[], replacement: RlpItem): RlpItem {
  if (path.length === 0 || !Array.isArray(item) || item.length === 0) return replacement
  const [head, ...rest] = path
  const i = head % item.length
  const copy = [...item]
  copy[i] = mutate(item[i], rest, replacement)
  return copy
}

describe('codec fuzzing: only EthCodecError escapes', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(codeArb, versionArb, fc.uint8Array({ maxLength: 600 }), (code, version, bytes) => {
        onlyCodecErrors(() => decodeEthPayload(code, bytes, { version, common }))
        onlyCodecErrors(() => decodeStatus(bytes, version))
      }),
      { numRuns: 3000 },
    )
  })

  it('random RLP-valid bytes', () => {
    fc.assert(
      fc.property(codeArb, versionArb, itemArb, (code, version, item) => {
        onlyCodecErrors(() => decodeEthPayload(code, RLP.encode(item), { version, common }))
      }),
      { numRuns: 2000 },
    )
  })

  it('random nested arrays', () => {
    fc.assert(
      fc.property(codeArb, versionArb, fc.array(itemArb, { maxLength: 6 }), (code, version, list) => {
        onlyCodecErrors(() => decodeEthPayload(code, list, { version, common }))
        onlyCodecErrors(() => decodeStatus(list, version))
      }),
      { numRuns: 2000 },
    )
  })

  it('valid messages with one node replaced', () => {
    for (const version of ETH_VERSIONS) {
      const samples = sampleMessages(chain, version)
      const encoded = (Object.keys(samples) as EthMessageName[]).flatMap((name) =>
        samples[name]!.map((data) => ({ code: EthCode[name], item: RLP.decode(RLP.encode(encodeEthPayload(name, data as never, { version, common }))) as RlpItem })),
      )
      fc.assert(
        fc.property(fc.constantFrom(...encoded), fc.array(fc.nat(), { maxLength: 5 }), itemArb, ({ code, item }, path, replacement) => {
          const mutated = mutate(item, path, replacement)
          onlyCodecErrors(() => decodeEthPayload(code, Array.isArray(mutated) ? mutated : RLP.encode(mutated), { version, common }))
        }),
        { numRuns: 400 },
      )
    }
  })

  it('deep nesting is an EthCodecError, not a crash', () => {
    let deep: RlpItem = []
    for (let i = 0; i < 20_000; i++) deep = [deep]
    onlyCodecErrors(() => decodeEthPayload(EthCode.BlockBodies, deep as RlpItem[], { version: 68, common }))
    // The RLP decoder itself recurses: 100k nested lists as bytes, built inside out.
    const bytes = nestedListBytes(100_000)
    onlyCodecErrors(() => decodeEthPayload(EthCode.BlockBodies, bytes, { version: 68, common }))
  })
})
