export {
  Config,
  type ConfigOptions,
  DEFAULT_BAN_TIME_MS,
  DEFAULT_BIND_ADDRESS,
  DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS,
  DEFAULT_CHAIN_ID,
  DEFAULT_CHAIN_NAME,
  DEFAULT_DIAL_BACKOFF_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_DISCOVERY_REFRESH_MS,
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  DEFAULT_ETH_VERSIONS,
  DEFAULT_EXT_IP,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_CONCURRENT_DIALS,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_QUEUED_REQUESTS,
  DEFAULT_MAX_RECEIPT_CONTINUATIONS,
  DEFAULT_MAX_SERVE_ITEMS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_REDIAL_BACKOFF_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RESPONSE_SOFT_LIMIT,
  DEFAULT_SERVE_CONCURRENCY,
  DEFAULT_STATUS_TIMEOUT_MS,
  DEFAULT_TX_POOL_MAX_SIZE,
  MAX_SERVE_ITEMS,
} from './config'
export { EthereumClient, type EthereumClientOptions, type ClientState } from './client'
export { ClientError, ClientStateError, ConfigError, NoSharedCapabilityError, PeerError, ServerError, ServiceError } from './errors'
export { Event, EventBus, type EventListener, type EventParams, type ProtocolMessage } from './types'
export { Chain } from './blockchain/chain'
export { BanList } from './net/banlist'
export { PeerPool } from './net/peerpool'
export { describeDisconnect, disconnectReasonFor } from './net/disconnect'
export * from './net/server'
export * from './net/peer'
export * from './net/protocol'
export { Service, type ServiceOptions } from './service/service'
export { FullEthereumService } from './service/fullethereumservice'
export { TxPool, TxRejectedError, type TxPoolEvents, type TxPoolOptions, type TxRejection } from './service/txpool'
export { Synchronizer, type SynchronizerOptions } from './sync/synchronizer'
export { DISTRUSTED_SCORE, type PeerHead, type RankPeers, byClaimedHead, byReputationThenHead, claimedHead } from './sync/peerhead'
