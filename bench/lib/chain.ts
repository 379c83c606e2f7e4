import { bigIntToUnpaddedBytes } from '@ethereumjs/util'

import { Common } from '../../src/chain-config'
import { Chain } from '../../src/client/blockchain/chain'
import { Config, type ConfigOptions } from '../../src/client/config'
import type { EthStatus } from '../../src/client/net/protocol/ethmessages'
import { StreamEthProtocol } from '../../src/client/net/protocol/streamethprotocol'
import { buildTestChain, type TestChain } from '../../src/client/testing/testchain'
import { HOST } from './net'

/** Chain id (and devp2p network id) of every bench node. */
export const BENCH_CHAIN_ID = 1234

export function benchCommon(): ReturnType<typeof Common.custom> {
  return Common.custom({ chainId: BENCH_CHAIN_ID, name: 'bench' })
}

/** A Config that opens nothing by itself: loopback, ephemeral ports, no discovery unless asked. */
export function benchConfig(opts: ConfigOptions = {}): Config {
  return new Config({ common: benchCommon(), port: 0, discPort: 0, bindAddress: HOST, extIP: HOST, discV4: false, ...opts })
}

/** What an ETH endpoint needs to send and check Status: the chain's protocol view. */
export interface StatusSource {
  protocol: StreamEthProtocol
  /** Our Status for eth/68. */
  status: EthStatus
  /** The same, in the shape devp2p's ETH.sendStatus takes (it adds version, network id and fork id). */
  devp2pStatus: { td: Uint8Array; bestHash: Uint8Array; genesisHash: Uint8Array }
  chain: Chain
}

export async function statusSource(chain?: Chain): Promise<StatusSource> {
  const config = benchConfig()
  const c = chain ?? (await Chain.create({ common: config.common }))
  const protocol = new StreamEthProtocol({ config, chain: c })
  await protocol.open()
  const status = protocol.createStatus(68)
  return {
    protocol,
    status,
    devp2pStatus: { td: bigIntToUnpaddedBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash },
    chain: c,
  }
}

const built = new Map<string, Promise<TestChain>>()

/** A deterministic VM-executed chain of `blocks` blocks with `txsPerBlock` transactions each, built once per process. */
export function testChain(blocks: number, txsPerBlock = 1): Promise<TestChain> {
  const key = `${blocks}/${txsPerBlock}`
  let chain = built.get(key)
  if (chain === undefined) {
    chain = buildTestChain({ common: benchCommon(), blocks, txsPerBlock, seed: 'bench' })
    built.set(key, chain)
  }
  return chain
}

/** A fresh Chain holding the test chain's blocks. */
export async function filledChain(blocks: number, txsPerBlock = 1): Promise<Chain> {
  const src = await testChain(blocks, txsPerBlock)
  const chain = await Chain.create({ common: benchCommon() })
  await chain.open()
  await chain.putBlocks(src.blocks, src.receipts)
  return chain
}
