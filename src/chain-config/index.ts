import {
  type ChainConfig,
  ConsensusAlgorithm,
  ConsensusType,
  Common as EthjsCommon,
  Hardfork,
  type HardforkTransitionConfig,
  Mainnet,
} from '@ethereumjs/common'
import { bigIntToHex } from '@ethereumjs/util'

import { ecrecover } from './ecrecover'
import { DEFAULT_GENESIS_GAS_LIMIT, GENESIS_BASE_FEE, createGenesisBlock } from './genesis'

export { EthjsCommon }
export type { ChainConfig }
export { TEST_ACCOUNT_BALANCE, TEST_ACCOUNT_COUNT, type TestAccount, testAccountKey, testAccounts } from './accounts'
export {
  DEFAULT_GENESIS_GAS_LIMIT,
  GENESIS_BASE_FEE,
  GENESIS_STATE_ROOT,
  LOG_CONTRACT_ADDRESS,
  LOG_CONTRACT_CODE,
  createGenesisBlock,
  genesisState,
  verifyGenesisStateRoot,
} from './genesis'

/**
 * The hardfork every custom chain runs: Prague (mainnet rules as of May 2025). It is the
 * newest fork @ethereumjs 10.1.3's block builder executes on a chain without beacon-chain
 * system contracts; Osaka would add the 10 MiB block-size cap (EIP-7934) and the per-tx gas
 * cap (EIP-7825), which the large-body test blocks are meant to exceed.
 */
export const CHAIN_HARDFORK: Hardfork = Hardfork.Prague

export interface CustomChainOptions {
  /** EIP-155 chain id; also the devp2p network id. */
  chainId: number | bigint
  name: string
  /** Genesis gas limit; DEFAULT_GENESIS_GAS_LIMIT unless a test needs very large blocks. */
  gasLimit?: bigint
}

/**
 * Every mainnet fork up to CHAIN_HARDFORK, all active from genesis: block-numbered forks at
 * block 0, time-based forks (Shanghai on) at timestamp 0. The DAO fork is left unscheduled,
 * as geth does for dev chains: scheduled at block 0 it would force the DAO extra-data on
 * blocks 1..10 and move the DAO contract balances. The merge netsplit block is not a fork.
 * Forks at genesis do not enter the EIP-2124 fork hash, so the fork id is CRC32(genesis hash)
 * with `next` = 0.
 */
function genesisHardforks(): HardforkTransitionConfig[] {
  const out: HardforkTransitionConfig[] = []
  for (const hf of Mainnet.hardforks) {
    if (hf.name === Hardfork.MergeNetsplitBlock) continue
    if (hf.name === Hardfork.Dao) out.push({ name: hf.name, block: null })
    else if (hf.timestamp !== undefined) out.push({ name: hf.name, block: null, timestamp: 0 })
    else out.push({ name: hf.name, block: 0 })
    if (hf.name === CHAIN_HARDFORK) return out
  }
  throw new Error(`hardfork ${CHAIN_HARDFORK} missing from @ethereumjs/common's mainnet config`)
}

function chainConfig(opts: CustomChainOptions): ChainConfig {
  const gasLimit = opts.gasLimit ?? DEFAULT_GENESIS_GAS_LIMIT
  return {
    ...Mainnet,
    name: opts.name,
    chainId: Number(opts.chainId),
    defaultHardfork: CHAIN_HARDFORK,
    comment: `custom chain on mainnet rules at ${CHAIN_HARDFORK} from genesis`,
    url: '',
    genesis: {
      timestamp: '0x0',
      gasLimit: bigIntToHex(gasLimit),
      difficulty: '0x0',
      nonce: '0x0000000000000000',
      extraData: '0x',
      baseFeePerGas: bigIntToHex(GENESIS_BASE_FEE),
      excessBlobGas: '0x0',
    },
    hardforks: genesisHardforks(),
    bootstrapNodes: [],
    dnsNetworks: [],
    consensus: { type: ConsensusType.ProofOfStake, algorithm: ConsensusAlgorithm.Casper },
  }
}

function validateOptions(opts: CustomChainOptions): void {
  const id = BigInt(opts.chainId)
  // Number(chainId) must stay exact: @ethereumjs/common stores the id as a number.
  if (id < 1n || id > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`chainId must be an integer in [1, 2^53-1], got ${opts.chainId}`)
  }
  if (typeof opts.name !== 'string' || opts.name.length === 0) {
    throw new TypeError('name must be a non-empty string')
  }
  if (opts.gasLimit !== undefined && opts.gasLimit < 5000n) {
    throw new RangeError(`gasLimit must be at least 5000, got ${opts.gasLimit}`)
  }
}

/**
 * Creates the @ethereumjs Common of a custom chain, with fork hashes filled in from its
 * genesis so `common.forkHash()` works without arguments. The network id equals the chain id.
 * Transaction signatures recover through libsecp256k1 (see ecrecover.ts).
 */
function custom(opts: CustomChainOptions): EthjsCommon {
  validateOptions(opts)
  const common = new EthjsCommon({ chain: chainConfig(opts), hardfork: CHAIN_HARDFORK, customCrypto: { ecrecover } })
  common.setForkHashes(createGenesisBlock(common).hash())
  return common
}

/** Network id of a chain made by `Common.custom`: its chain id (as for mainnet). */
export function networkId(common: EthjsCommon): bigint {
  return common.chainId()
}

export const Common = { custom } as const
export type Common = EthjsCommon
