import { type Block, createBlock } from '@ethereumjs/block'
import { genGenesisStateRoot } from '@ethereumjs/blockchain'
import type { Common, GenesisState } from '@ethereumjs/common'
import { KECCAK256_RLP, type PrefixedHexString, SHA256_NULL, bigIntToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'

import { TEST_ACCOUNT_BALANCE, testAccounts } from './accounts'

/**
 * Genesis gas limit: mainnet's ~30M, the size the block builder is known to work with
 * on a custom chain, and large enough for a few dozen transfers per block.
 */
export const DEFAULT_GENESIS_GAS_LIMIT = 30_000_000n

/** Genesis base fee: 1 gwei, mainnet's EIP-1559 initial base fee. */
export const GENESIS_BASE_FEE = 1_000_000_000n

/**
 * A tiny contract in the genesis allocation so test transactions produce logs and failed
 * receipts, not only plain transfers. Called with value 0 it emits LOG1(topic = caller,
 * data = calldata); called with any value it reverts (status-0 receipt). Bytecode:
 *   CALLVALUE ISZERO PUSH1 0x08 JUMPI PUSH0 PUSH0 REVERT
 *   JUMPDEST CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY CALLER CALLDATASIZE PUSH0 LOG1 STOP
 */
export const LOG_CONTRACT_ADDRESS: PrefixedHexString = '0x0000000000000000000000000000000000c0ffee'
export const LOG_CONTRACT_CODE: PrefixedHexString = '0x34156008575f5ffd5b365f5f3733365fa100'

/**
 * The genesis allocation: every test account funded with TEST_ACCOUNT_BALANCE wei, plus
 * the log contract (balance 0, no storage, nonce 1 as EIP-161 gives deployed contracts).
 */
export const genesisState: Readonly<GenesisState> = Object.freeze(buildGenesisState())

function buildGenesisState(): GenesisState {
  const state: GenesisState = {}
  for (const a of testAccounts) state[a.address.toString()] = bigIntToHex(TEST_ACCOUNT_BALANCE)
  state[LOG_CONTRACT_ADDRESS] = ['0x0', LOG_CONTRACT_CODE, [], '0x1']
  return state
}

/**
 * State root of `genesisState`. `Common.custom` is synchronous (the seed calls it without
 * `await`) but needs the genesis hash for its EIP-2124 fork hashes, and trie hashing is
 * async in @ethereumjs/mpt; so the root is a constant here. `verifyGenesisStateRoot` checks it
 * against the allocation, and `Chain.create` runs that check before it trusts the genesis.
 */
export const GENESIS_STATE_ROOT = hexToBytes('0x5818e483ed575d2bd474adffab1ca3a233e4b11f4ec6275f7fac4a888ee5db0b')

/** Recomputes the genesis state root from `genesisState`; true when it matches the constant. */
export async function verifyGenesisStateRoot(common: Common): Promise<boolean> {
  const root = await genGenesisStateRoot(genesisState as GenesisState, common)
  return equalsBytes(root, GENESIS_STATE_ROOT)
}

/**
 * Builds the genesis block of `common` exactly as @ethereumjs/blockchain does for a chain
 * whose genesis header fields come from the chain config, with our allocation's state root.
 */
export function createGenesisBlock(common: Common): Block {
  const genesisCommon = common.copy()
  genesisCommon.setHardforkBy({ blockNumber: 0, timestamp: genesisCommon.genesis().timestamp ?? 0 })
  const header = {
    ...genesisCommon.genesis(),
    number: 0,
    stateRoot: GENESIS_STATE_ROOT,
    withdrawalsRoot: genesisCommon.isActivatedEIP(4895) ? KECCAK256_RLP : undefined,
    requestsHash: genesisCommon.isActivatedEIP(7685) ? SHA256_NULL : undefined,
  }
  return createBlock(
    { header, withdrawals: genesisCommon.isActivatedEIP(4895) ? [] : undefined },
    { common: genesisCommon },
  )
}
