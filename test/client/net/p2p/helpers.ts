import { Chain } from '../../../../src/client/blockchain/chain'
import { Config, type ConfigOptions } from '../../../../src/client/config'
import { buildTestChain, type TestChain } from '../../../../src/client/testing/testchain'
import { testCommon as clientTestCommon } from '../../helpers/nodes'

import type { Common } from '@ethereumjs/common'

/** Bound on every event wait (re-exported under its old name: test/reliability imports it from here). */
export { WAIT_MS as EVENT_TIMEOUT_MS } from '../../helpers/waits'

/** Chain id of the P2P-layer test chains. */
export const P2P_TEST_CHAIN_ID = 4711

/** The test chain's Common; another `gasLimit` gives another genesis under the same network id. */
export function testCommon(chainId = P2P_TEST_CHAIN_ID, gasLimit?: bigint): Common {
  return clientTestCommon(chainId, gasLimit)
}

const chains = new Map<string, Promise<TestChain>>()

/** A deterministic VM-executed chain, built once per (chain id, length) per test file. */
export function sourceChain(blocks: number, chainId = P2P_TEST_CHAIN_ID): Promise<TestChain> {
  const key = `${chainId}/${blocks}`
  let chain = chains.get(key)
  if (chain === undefined) {
    chain = buildTestChain({ common: testCommon(chainId), blocks, txsPerBlock: 3, seed: 'h8' })
    chains.set(key, chain)
  }
  return chain
}

/** A Chain at genesis, or holding the first `blocks` blocks of the source chain. */
export async function makeChain(blocks = 0, chainId = P2P_TEST_CHAIN_ID): Promise<Chain> {
  const chain = await Chain.create({ common: testCommon(chainId) })
  if (blocks > 0) {
    const src = await sourceChain(blocks, chainId)
    await chain.putBlocks(src.blocks, src.receipts)
  }
  return chain
}

/** A chain at a genesis of its own (same network id, other gas limit). */
export function makeForeignChain(): Promise<Chain> {
  return Chain.create({ common: testCommon(P2P_TEST_CHAIN_ID, 31_000_000n) })
}

/** A Config that opens nothing by itself (no discovery, loopback, ephemeral port). */
export function makeConfig(opts: ConfigOptions = {}): Config {
  return new Config({
    common: testCommon(),
    port: 0,
    discPort: 0,
    bindAddress: '127.0.0.1',
    discV4: false,
    ...opts,
  })
}
