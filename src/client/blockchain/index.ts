export {
  Chain,
  type ChainHead,
  type ChainOptions,
  MAX_BODIES_SERVE,
  MAX_HEADERS_SERVE,
  MAX_NODE_DATA_SERVE,
  MAX_RECEIPTS_SERVE,
  type ResponseLimitOptions,
  SOFT_RESPONSE_LIMIT,
} from './chain'
export { ChainError, type ChainErrorCode } from './errors'
export { ChainState, type ChainStateOptions } from './state'
export { orderedTrieRoot } from './ordered-trie'
export { type DecodedReceipt, bodyMatchesHeader, decodeReceipt, receiptsMatchHeader, verifyBody, verifyReceipts } from './verify'
