import { Common } from '../../../../src/chain-config'
import { Chain } from '../../../../src/client/blockchain/chain'
import { Config, type ConfigOptions } from '../../../../src/client/config'
import { Peer } from '../../../../src/client/net/peer/peer'
import { buildTestChain, type TestChain } from '../../../../src/client/testing/testchain'

import type { EventEmitter } from 'node:events'

/** Bound on every event wait in these tests: generous, only hit when something is broken. */
export const EVENT_TIMEOUT_MS = 20_000

export const P2P_TEST_CHAIN_ID = 4711

/** The test chain's Common; another `gasLimit` gives another genesis under the same network id. */
export function testCommon(chainId = P2P_TEST_CHAIN_ID, gasLimit?: bigint): ReturnType<typeof Common.custom> {
  return Common.custom({ chainId, name: `h8-test-${chainId}`, gasLimit })
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
  return fill(chain, blocks, chainId)
}

/** A chain at a genesis of its own (same network id, other gas limit). */
export function makeForeignChain(): Promise<Chain> {
  return Chain.create({ common: testCommon(P2P_TEST_CHAIN_ID, 31_000_000n) })
}

async function fill(chain: Chain, blocks: number, chainId: number): Promise<Chain> {
  if (blocks > 0) {
    const src = await sourceChain(blocks, chainId)
    await chain.putBlocks(src.blocks, src.receipts)
  }
  return chain
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

/**
 * A Peer with no transport of its own, for tests that drive a Sender pair
 * directly: the protocol layer only needs its id and config.
 */
export class PairPeer extends Peer {
  constructor(config: Config, id: string) {
    super({ config, id, address: '127.0.0.1:0', inbound: false, transport: 'p2p', protocols: [] })
  }

  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {
    this.eth?.close()
  }
}

/** Resolves with the arguments of the next `event`, rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(emitter: EventEmitter, event: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      clearTimeout(timer)
      resolve(args as T)
    }
    const timer = setTimeout(() => {
      emitter.off(event, onEvent)
      reject(new Error(`no '${event}' within ${timeoutMs} ms`))
    }, timeoutMs)
    emitter.once(event, onEvent)
  })
}

/** Waits until `predicate` holds, re-checking whenever `emitter` emits `event`. */
export function until(emitter: EventEmitter, event: string, predicate: () => boolean, timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
  if (predicate()) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!predicate()) return
      clearTimeout(timer)
      emitter.off(event, check)
      resolve()
    }
    const timer = setTimeout(() => {
      emitter.off(event, check)
      reject(new Error(`condition not met within ${timeoutMs} ms (waiting on '${event}')`))
    }, timeoutMs)
    emitter.on(event, check)
  })
}
