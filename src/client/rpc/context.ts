import type { EthereumClient } from '../client'
import type { SyncStatusSource } from '../types'
import type { FeeOracle } from './fees'
import type { TxIndex } from './txindex'

/** What every method handler reads: the client and the RPC layer's own indexes. */
export interface RpcContext {
  client: EthereumClient
  /** The synchronizer, once the client has one; undefined: eth_syncing answers false. */
  sync: () => SyncStatusSource | undefined
  txIndex: TxIndex
  fees: FeeOracle
}

/** One JSON-RPC method: positional params in, a JSON-able result out (or an RpcError thrown). */
export type RpcMethod = (params: unknown[]) => unknown

/** Methods by name, as the dispatcher looks them up. */
export type RpcMethods = Readonly<Record<string, RpcMethod>>
