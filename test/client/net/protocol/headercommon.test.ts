import { createBlockHeader, createBlockHeaderFromBytesArray, paramsBlock, type BlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { describe, expect, it } from 'vitest'
import { decodeHeader } from '../../../../src/client/net/protocol/ethitems'
import { headerCommon } from '../../../../src/client/net/protocol/headercommon'

// Mainnet heights and times on both sides of several forks, block-numbered and timestamped.
const POINTS: Array<{ number: bigint; timestamp: bigint }> = [
  { number: 1n, timestamp: 1438269988n }, // chainstart
  { number: 1_150_000n, timestamp: 1457981393n }, // homestead
  { number: 12_964_999n, timestamp: 1628166812n }, // berlin
  { number: 12_965_000n, timestamp: 1628166822n }, // london
  { number: 15_537_394n, timestamp: 1663224179n }, // paris
  { number: 17_034_870n, timestamp: 1681338455n }, // shanghai
  { number: 19_426_587n, timestamp: 1710338135n }, // cancun
  { number: 12_964_998n, timestamp: 1628166800n }, // berlin again, after later forks were seen
]

function headersAcrossForks(common: Common): BlockHeader[] {
  return POINTS.map((p) =>
    createBlockHeader({ number: p.number, timestamp: p.timestamp, gasLimit: 30_000_000n, difficulty: p.number < 15_537_394n ? 1n : 0n }, { common, setHardfork: true }),
  )
}

describe('headerCommon: header decoding without a params merge per header', () => {
  it('decodes every header exactly as the plain path does: same fork, hash and params', () => {
    const common = new Common({ chain: Mainnet })
    for (const header of headersAcrossForks(common)) {
      const raw = header.raw()
      const plain = createBlockHeaderFromBytesArray(raw, { common, setHardfork: true })
      const fast = decodeHeader(raw, common, 'header')
      expect(fast.common.hardfork()).toBe(plain.common.hardfork())
      expect(fast.hash()).toEqual(plain.hash())
      expect(fast.serialize()).toEqual(plain.serialize())
      expect(fast.common.param('minGasLimit')).toBe(plain.common.param('minGasLimit'))
      expect(fast.common.eips()).toEqual(plain.common.eips())
      for (const eip of [1559, 4844, 4895, 4788]) expect(fast.common.isActivatedEIP(eip)).toBe(plain.common.isActivatedEIP(eip))
      if (fast.common.isActivatedEIP(1559)) expect(fast.common.param('elasticityMultiplier')).toBe(plain.common.param('elasticityMultiplier'))
    }
  })

  it('keeps one template per fork, leaves the chain Common untouched, and no header can change another', () => {
    const common = new Common({ chain: Mainnet, hardfork: Hardfork.Prague })
    const london = headerCommon(common, 12_965_000n, 1628166822n)
    expect(headerCommon(common, 12_965_001n, 1628166830n)).toBe(london)
    expect(headerCommon(common, 1n, 1438269988n)).not.toBe(london)
    expect(london.hardfork()).toBe(Hardfork.London)
    expect(common.hardfork()).toBe(Hardfork.Prague)

    const [a, b] = [12_965_000n, 12_965_001n].map((n) =>
      decodeHeader(createBlockHeader({ number: n, timestamp: 1628166822n, gasLimit: 30_000_000n, difficulty: 1n }, { common, setHardfork: true }).raw(), common, 'h'),
    )
    a!.common.setHardfork(Hardfork.Chainstart)
    expect(b!.common.hardfork()).toBe(Hardfork.London)
    expect(london.hardfork()).toBe(Hardfork.London)
  })

  it('still merges params it has not merged last', () => {
    const common = new Common({ chain: Mainnet })
    const template = headerCommon(common, 12_965_000n, 1628166822n).copy()
    const initialBaseFee = template.param('initialBaseFee')
    template.updateParams({ 1559: { initialBaseFee: 7 } })
    expect(template.param('initialBaseFee')).toBe(7n)
    template.updateParams(paramsBlock) // merged before, but not last: applied again
    expect(template.param('initialBaseFee')).toBe(initialBaseFee)
  })
})
