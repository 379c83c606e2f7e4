import { Common as EthjsCommon, Hardfork, Mainnet } from '@ethereumjs/common'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { createGenesisBlock } from '../../../../src/chain-config'
import { ForkIdError } from '../../../../src/client/net/protocol/errors'
import { type ForkId, computeForkId, validateForkId } from '../../../../src/client/net/protocol/forkid'
import { filled, testCommon } from './fixtures'

const MAINNET_GENESIS = { hash: hexToBytes('0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3'), timestamp: 0n }
const MAX_UINT64 = 2n ** 64n - 1n
const mainnet = new EthjsCommon({ chain: Mainnet })

function id(hash: number, next: bigint): ForkId {
  return { hash: hexToBytes(`0x${hash.toString(16).padStart(8, '0')}`), next }
}

function head(number: number, timestamp = 0n) {
  return { number: BigInt(number), timestamp }
}

describe('computeForkId (EIP-2124 mainnet vectors)', () => {
  // [head number, head timestamp, fork hash, next]: the EIP's list, extended by the
  // later mainnet forks (time-based from Shanghai, EIP-6122) as geth tests them.
  const vectors: [number, bigint, number, bigint][] = [
    [0, 0n, 0xfc64ec04, 1150000n], // unsynced
    [1149999, 0n, 0xfc64ec04, 1150000n], // last Frontier block
    [1150000, 0n, 0x97c2c34c, 1920000n], // first Homestead block
    [1919999, 0n, 0x97c2c34c, 1920000n],
    [1920000, 0n, 0x91d1f948, 2463000n], // DAO
    [2462999, 0n, 0x91d1f948, 2463000n],
    [2463000, 0n, 0x7a64da13, 2675000n], // Tangerine Whistle
    [2674999, 0n, 0x7a64da13, 2675000n],
    [2675000, 0n, 0x3edd5b10, 4370000n], // Spurious Dragon
    [4369999, 0n, 0x3edd5b10, 4370000n],
    [4370000, 0n, 0xa00bc324, 7280000n], // Byzantium
    [7279999, 0n, 0xa00bc324, 7280000n],
    [7280000, 0n, 0x668db0af, 9069000n], // Constantinople + Petersburg
    [9068999, 0n, 0x668db0af, 9069000n],
    [9069000, 0n, 0x879d6e30, 9200000n], // Istanbul
    [9199999, 0n, 0x879d6e30, 9200000n],
    [9200000, 0n, 0xe029e991, 12244000n], // Muir Glacier
    [12243999, 0n, 0xe029e991, 12244000n],
    [12244000, 0n, 0x0eb440f6, 12965000n], // Berlin
    [12964999, 0n, 0x0eb440f6, 12965000n],
    [12965000, 0n, 0xb715077d, 13773000n], // London
    [13772999, 0n, 0xb715077d, 13773000n],
    [13773000, 0n, 0x20c327fc, 15050000n], // Arrow Glacier
    [15049999, 0n, 0x20c327fc, 15050000n],
    [15050000, 0n, 0xf0afd0e3, 1681338455n], // Gray Glacier (the merge is not a fork point)
    [20000000, 1681338454n, 0xf0afd0e3, 1681338455n], // last Gray Glacier block
    [20000000, 1681338455n, 0xdce96c2d, 1710338135n], // Shanghai
    [30000000, 1710338134n, 0xdce96c2d, 1710338135n],
    [30000000, 1710338135n, 0x9f3d2254, 1746612311n], // Cancun
    [30000000, 1746612310n, 0x9f3d2254, 1746612311n],
    [30000000, 1746612311n, 0xc376cf8b, 1764798551n], // Prague
    [30000000, 1764798551n, 0x5167e2a6, 1765290071n], // Osaka
    [30000000, 1765290071n, 0xcba2a1c0, 1767747671n], // BPO1
    [30000000, 1767747671n, 0x07c9462e, 0n], // BPO2, nothing scheduled after
  ]

  it.each(vectors)('head %i / %i -> %s', (number, timestamp, hash, next) => {
    const got = computeForkId(mainnet, head(number, timestamp), MAINNET_GENESIS)
    expect(bytesToHex(got.hash)).toBe(`0x${hash.toString(16).padStart(8, '0')}`)
    expect(got.next).toBe(next)
  })

  it("agrees with @ethereumjs/common's fork hashes at every mainnet fork", () => {
    for (const hf of mainnet.hardforks()) {
      if (hf.forkHash === null || hf.forkHash === undefined || hf.name === Hardfork.Paris) continue
      const at = hf.timestamp !== undefined ? head(30000000, BigInt(hf.timestamp)) : head(Number(hf.block ?? 0))
      expect(bytesToHex(computeForkId(mainnet, at, MAINNET_GENESIS).hash), hf.name).toBe(hf.forkHash)
    }
  })

  it('a custom chain with every fork at genesis has CRC32(genesis) and no next fork', () => {
    const common = testCommon()
    const genesis = createGenesisBlock(common)
    const got = computeForkId(common, head(0), { hash: genesis.hash(), timestamp: genesis.header.timestamp })
    expect(bytesToHex(got.hash)).toBe(common.forkHash())
    expect(got.next).toBe(0n)
    const later = computeForkId(common, head(1000, 999999n), { hash: genesis.hash(), timestamp: 0n })
    expect(later).toEqual(got)
  })
})

describe('validateForkId (EIP-2124 rules)', () => {
  type Expect = 'ok' | 'remote-stale' | 'local-incompatible-or-stale'
  const cases: [string, number, bigint, ForkId, Expect][] = [
    ['same fork, no next known', 7987396, 0n, id(0x668db0af, 0n), 'ok'],
    ['same fork, remote knows a future fork we do not', 7987396, 0n, id(0x668db0af, MAX_UINT64), 'ok'],
    ['Byzantium both, remote unaware of Petersburg', 7279999, 0n, id(0xa00bc324, 0n), 'ok'],
    ['Byzantium both, remote knows Petersburg', 7279999, 0n, id(0xa00bc324, 7280000n), 'ok'],
    ['Byzantium both, remote knows an unknown future fork', 7279999, 0n, id(0xa00bc324, MAX_UINT64), 'ok'],
    ['we are Petersburg, remote syncing Byzantium and knows Petersburg', 7987396, 0n, id(0xa00bc324, 7280000n), 'ok'],
    ['we are Petersburg, remote syncing Spurious and knows Byzantium', 7987396, 0n, id(0x3edd5b10, 4370000n), 'ok'],
    ['we are Byzantium, remote already Petersburg', 7279999, 0n, id(0x668db0af, 0n), 'ok'],
    ['we are Spurious, remote already Petersburg', 4369999, 0n, id(0x668db0af, 0n), 'ok'],
    ['we are Petersburg, remote Byzantium unaware of Petersburg', 7987396, 0n, id(0xa00bc324, 0n), 'remote-stale'],
    ['we are Petersburg, remote on an unknown fork', 7987396, 0n, id(0x5cddc0e1, 0n), 'local-incompatible-or-stale'],
    ['we are Byzantium, remote on an unknown fork', 7279999, 0n, id(0x5cddc0e1, 0n), 'local-incompatible-or-stale'],
    ['we are Petersburg, remote on another chain', 7987396, 0n, id(0xafec6b27, 0n), 'local-incompatible-or-stale'],
    ['remote announces a fork at a block we already passed', 88888888, 0n, id(0xf0afd0e3, 88888888n), 'local-incompatible-or-stale'],
    ['remote announces a fork before our next one, already passed', 7279999, 0n, id(0xa00bc324, 7279999n), 'local-incompatible-or-stale'],
    ['Shanghai both', 20000000, 1681338455n, id(0xdce96c2d, 0n), 'ok'],
    ['Shanghai both, remote knows Cancun', 20000000, 1681338455n, id(0xdce96c2d, 1710338135n), 'ok'],
    ['we are Shanghai, remote Gray Glacier and knows Shanghai', 20000000, 1681338455n, id(0xf0afd0e3, 1681338455n), 'ok'],
    ['we are Shanghai, remote Gray Glacier unaware of Shanghai', 20000000, 1681338455n, id(0xf0afd0e3, 0n), 'remote-stale'],
    ['we are Cancun, remote Shanghai and knows Cancun', 21000000, 1710338135n, id(0xdce96c2d, 1710338135n), 'ok'],
    ['we are Gray Glacier, remote already Shanghai', 15050000, 0n, id(0xdce96c2d, 0n), 'ok'],
    ['remote announces a time fork we already passed', 20000000, 1681338455n, id(0xdce96c2d, 1681338455n), 'local-incompatible-or-stale'],
    ['just before Shanghai, remote knows it', 20000000, 1681338454n, id(0xf0afd0e3, 1681338455n), 'ok'],
    ['we are BPO2 (last), remote Prague unaware of Osaka', 30000000, 1767747671n, id(0xc376cf8b, 0n), 'remote-stale'],
  ]

  it.each(cases)('%s', (_name, number, timestamp, remote, expected) => {
    let result: Expect = 'ok'
    try {
      validateForkId(mainnet, head(number, timestamp), MAINNET_GENESIS, remote)
    } catch (err) {
      expect(err).toBeInstanceOf(ForkIdError)
      result = (err as ForkIdError).reason
      expect((err as ForkIdError).code).toBe(result === 'remote-stale' ? 'ERR_FORKID_REMOTE_STALE' : 'ERR_FORKID_LOCAL_INCOMPATIBLE')
      expect((err as Error).message).toContain(result)
    }
    expect(result).toBe(expected)
  })

  it('a custom chain accepts its own fork id and rejects another genesis', () => {
    const common = testCommon()
    const genesis = createGenesisBlock(common)
    const info = { hash: genesis.hash(), timestamp: 0n }
    const ours = computeForkId(common, head(5), info)
    expect(() => validateForkId(common, head(5), info, ours)).not.toThrow()
    const theirs = computeForkId(common, head(5), { hash: filled(32, 0xab), timestamp: 0n })
    expect(() => validateForkId(common, head(5), info, theirs)).toThrow(/not on our chain/)
  })
})
