import { Chain } from '../../src/client/blockchain/chain'
import { ChainStore } from '../../src/client/db/chainstore'
import { LevelKvStore } from '../../src/client/db/level'

import type { Common } from '@ethereumjs/common'
import type { KvStore } from '../../src/client/db/kvstore'

/** A Chain running on a ChainStore, as a client with a dataDir runs it; `close()` closes both. */
export interface StoredChain {
  chain: Chain
  store: ChainStore
  close: () => Promise<void>
}

export interface StoredChainOptions {
  /** The store to open (default: a LevelDB in `dir`). */
  kv?: KvStore
  stateHistory?: number
}

/** Opens (creating if empty) the chain of `common` in the database directory `dir`. */
export async function openStoredChain(dir: string, common: Common, opts: StoredChainOptions = {}): Promise<StoredChain> {
  const kv = opts.kv ?? (await LevelKvStore.open(dir, { dataDir: dir }))
  let store: ChainStore
  try {
    store = await ChainStore.open({ kv, common, stateHistory: opts.stateHistory })
  } catch (err) {
    await kv.close()
    throw err
  }
  const chain = await Chain.create({ common, store })
  return {
    chain,
    store,
    close: async () => {
      await chain.close()
      await store.close()
    },
  }
}
