import { genGenesisStateRoot } from '@ethereumjs/blockchain'
import { Hardfork } from '@ethereumjs/common'
import { bytesToHex, equalsBytes, intToBytes, utf8ToBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { describe, expect, it } from 'vitest'

import {
  CHAIN_HARDFORK,
  Common,
  DEFAULT_GENESIS_GAS_LIMIT,
  EthjsCommon,
  GENESIS_BASE_FEE,
  GENESIS_STATE_ROOT,
  TEST_ACCOUNT_BALANCE,
  TEST_ACCOUNT_COUNT,
  createGenesisBlock,
  genesisState,
  networkId,
  testAccounts,
  verifyGenesisStateRoot,
} from '../../src/chain-config'

/** Plain bitwise CRC-32 (IEEE), independent of the one in @ethereumjs/common. */
function crc32(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

// Pinned so an accidental change of the genesis (alloc, header fields, hardfork) is noticed:
// every node of a test network must agree on it.
const TESTNET_GENESIS_HASH = '0x829d10ffc6f371711a89e3110e786e9faf512253242309e2f6e88bd5d7fa9f8d'

describe('Common.custom', () => {
  it('builds an @ethereumjs Common for the custom chain at Prague', () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    expect(common).toBeInstanceOf(EthjsCommon)
    expect(common.chainId()).toBe(1234n)
    expect(common.chainName()).toBe('testnet')
    expect(CHAIN_HARDFORK).toBe(Hardfork.Prague)
    expect(common.hardfork()).toBe(Hardfork.Prague)
    expect(common.consensusType()).toBe('pos')
    expect(networkId(common)).toBe(1234n)
    // Forks up to Prague are active; later ones are not part of the chain.
    for (const eip of [1559, 3675, 4844, 4895, 2935, 7685, 7702]) expect(common.isActivatedEIP(eip)).toBe(true)
    expect(common.hardforks().some((hf) => hf.name === Hardfork.Osaka)).toBe(false)
  })

  it('schedules every fork at genesis and none later', () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    for (const hf of common.hardforks()) {
      const at = hf.timestamp ?? hf.block
      if (hf.name === Hardfork.Dao) expect(at).toBeNull()
      else expect(Number(at)).toBe(0)
    }
    expect(common.getHardforkBy({ blockNumber: 0n, timestamp: 0n })).toBe(Hardfork.Prague)
    expect(common.getHardforkBy({ blockNumber: 1_000_000n, timestamp: 12_000_000n })).toBe(Hardfork.Prague)
    expect(common.nextHardforkBlockOrTimestamp()).toBeNull()
  })

  it('gives the EIP-2124 fork hash CRC32(genesis hash), as all forks are at genesis', () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    const genesisHash = createGenesisBlock(common).hash()
    const expected = bytesToHex(intToBytes(crc32(genesisHash)))
    expect(common.forkHash()).toBe(expected)
    expect(common.forkHash(Hardfork.Prague, genesisHash)).toBe(expected)
    // A different genesis (gas limit) gives a different fork hash.
    const other = Common.custom({ chainId: 1234, name: 'testnet', gasLimit: 60_000_000n })
    expect(other.forkHash()).not.toBe(expected)
  })

  it('rejects bad options with a clear error', () => {
    expect(() => Common.custom({ chainId: 0, name: 'x' })).toThrow(/chainId/)
    expect(() => Common.custom({ chainId: 2n ** 60n, name: 'x' })).toThrow(/chainId/)
    expect(() => Common.custom({ chainId: 1, name: '' })).toThrow(/name/)
    expect(() => Common.custom({ chainId: 1, name: 'x', gasLimit: 100n })).toThrow(/gasLimit/)
  })

  it('returns independent instances', () => {
    const a = Common.custom({ chainId: 1234, name: 'testnet' })
    const b = Common.custom({ chainId: 1234, name: 'testnet' })
    a.setHardfork(Hardfork.London)
    expect(b.hardfork()).toBe(Hardfork.Prague)
  })
})

describe('genesis', () => {
  it('has a stable hash, a ~30M gas limit, a base fee and the allocation state root', () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    const genesis = createGenesisBlock(common)
    expect(bytesToHex(genesis.hash())).toBe(TESTNET_GENESIS_HASH)
    expect(bytesToHex(createGenesisBlock(Common.custom({ chainId: 1234, name: 'testnet' })).hash())).toBe(TESTNET_GENESIS_HASH)
    const h = genesis.header
    expect(h.number).toBe(0n)
    expect(h.gasLimit).toBe(DEFAULT_GENESIS_GAS_LIMIT)
    expect(h.gasLimit).toBe(30_000_000n)
    expect(h.baseFeePerGas).toBe(GENESIS_BASE_FEE)
    expect(h.difficulty).toBe(0n)
    expect(h.timestamp).toBe(0n)
    expect(equalsBytes(h.stateRoot, GENESIS_STATE_ROOT)).toBe(true)
    expect(h.withdrawalsRoot).toBeDefined()
    expect(h.requestsHash).toBeDefined()
    expect(genesis.transactions).toHaveLength(0)
  })

  it('the genesis state root is the root of the genesis allocation', async () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    const root = await genGenesisStateRoot(genesisState, common)
    expect(bytesToHex(root)).toBe(bytesToHex(GENESIS_STATE_ROOT))
    expect(await verifyGenesisStateRoot(common)).toBe(true)
  })

  it('funds deterministic test accounts', () => {
    expect(testAccounts).toHaveLength(TEST_ACCOUNT_COUNT)
    const addresses = new Set(testAccounts.map((a) => a.address.toString()))
    expect(addresses.size).toBe(TEST_ACCOUNT_COUNT)
    for (const a of testAccounts) {
      expect(genesisState[a.address.toString()]).toBe(`0x${TEST_ACCOUNT_BALANCE.toString(16)}`)
      expect(a.privateKey).toHaveLength(32)
    }
    // Keys are keccak256 of a fixed label, so every process derives the same ones.
    expect(bytesToHex(testAccounts[3]!.privateKey)).toBe(bytesToHex(keccak_256(utf8ToBytes('ethp2p/test-account/3'))))
    expect(testAccounts[0]!.address.toString()).toBe('0xc3fa6b7e603f770044d54ceb0c0e037233bc9b4c')
  })

  it('does not depend on the chain id (the network id tells such chains apart)', () => {
    const a = createGenesisBlock(Common.custom({ chainId: 1, name: 'a' }))
    const b = createGenesisBlock(Common.custom({ chainId: 2, name: 'b' }))
    expect(bytesToHex(a.hash())).toBe(bytesToHex(b.hash()))
  })
})
