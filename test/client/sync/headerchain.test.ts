import { createBlockHeader } from '@ethereumjs/block'
import { beforeAll, describe, expect, it } from 'vitest'

import { BadHeadersError, MissingDataError, OtherChainError } from '../../../src/client/sync/errors'
import { checkEnds, checkHeadHeader, checkRun, checkSkeleton } from '../../../src/client/sync/headerchain'
import { type TestChain, buildTestChain } from '../../../src/client/testing/testchain'
import { testCommon } from '../helpers/nodes'

import type { BlockHeader } from '@ethereumjs/block'

let chain: TestChain
let h: BlockHeader[] // index = number (h[0] = genesis)

beforeAll(async () => {
  chain = await buildTestChain({ common: testCommon(), blocks: 12, txsPerBlock: 0 })
  h = [chain.genesis.header, ...chain.blocks.map((b) => b.header)]
})

const tampered = (header: BlockHeader): BlockHeader => createBlockHeader({ ...header.toJSON(), extraData: '0x01' }, { common: header.common })

describe('header run checks', () => {
  it('accepts a linked run, ascending or descending', () => {
    expect(() => checkRun(h.slice(3, 8), { first: 3n, count: 5 })).not.toThrow()
    expect(() => checkRun(h.slice(3, 8).reverse(), { first: 7n, count: 5, reverse: true })).not.toThrow()
  })

  it('refuses wrong numbers and broken parent links as provably bad', () => {
    expect(() => checkRun([h[3]!, h[5]!], { first: 3n, count: 2 })).toThrow(BadHeadersError)
    const broken = [h[3]!, tampered(h[4]!), h[5]!]
    let err: unknown
    try {
      checkRun(broken, { first: 3n, count: 3 })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BadHeadersError)
    expect((err as BadHeadersError).provable).toBe(true)
    expect((err as Error).message).toMatch(/broken parent link: #5/)
  })

  it('counts a short run as missing data, not as a lie', () => {
    let err: unknown
    try {
      checkRun(h.slice(3, 5), { first: 3n, count: 4 })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(MissingDataError)
    expect((err as MissingDataError).provable).toBe(false)
  })

  it('tells a run of another chain by its ends', () => {
    expect(() => checkEnds(h.slice(4, 8), h[3]!.hash(), h[7]!.hash())).not.toThrow()
    expect(() => checkEnds(h.slice(4, 8), h[2]!.hash(), undefined)).toThrow(OtherChainError)
    expect(() => checkEnds(h.slice(4, 8), h[3]!.hash(), h[8]!.hash())).toThrow(OtherChainError)
  })

  it('checks skeleton numbers and the head header asked for by hash', () => {
    expect(() => checkSkeleton([h[4]!, h[8]!, h[12]!], 4n, 4n, 3)).not.toThrow()
    expect(() => checkSkeleton([h[4]!, h[9]!], 4n, 4n, 2)).toThrow(BadHeadersError)
    expect(() => checkSkeleton([h[4]!], 4n, 4n, 2)).toThrow(MissingDataError)
    expect(() => checkHeadHeader(h[6]!, h[6]!.hash(), 6n)).not.toThrow()
    expect(() => checkHeadHeader(h[6]!, h[7]!.hash(), undefined)).toThrow(BadHeadersError)
    expect(() => checkHeadHeader(h[6]!, h[6]!.hash(), 9n)).toThrow(/announced .* as #9/)
  })
})
