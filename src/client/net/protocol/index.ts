export * from './errors'
export * from './ethmessages'
export { type ForkIdHead, type ForkId, type GenesisInfo, computeForkId, validateForkId } from './forkid'
export { type RlpItem } from './rlpfields'
export { MAX_RLP_DEPTH, decodeRlp } from './rlpdecode'
export { DEFAULT_MAX_BUFFERED, Sender, type SenderEvents, type SenderMessage, type SenderOptions } from './sender'
export { Devp2pSender, RlpxSender, type RlpxSenderOptions } from './rlpxsender'
export { ETH69_MESSAGE_COUNT, EthWire, RlpxWireSender, type RlpxWireSenderOptions, ethWireCapability, rlpxEthSender } from './rlpxwire'
export { BLOOM_BYTES, decodeNetworkReceipt, encodeNetworkReceipt, logsBloom } from './ethreceipts'
export { FIRST_RANGE_STATUS_VERSION, MAX_TD_BYTES } from './ethstatus'
export { BLOCK_RANGE_UPDATE_WINDOW_MS, BlockRangeUpdates } from './blockrangeupdates'
export { PartialReceipts, type ReceiptsQuery, type ReceiptsReply } from './receiptfetch'
export { MAX_REMEMBERED_TIMEOUTS, type RequestData, type ResponseData } from './requests'
export { type BindOptions, Protocol, type ProtocolOptions, servedBlockRange } from './protocol'
export { BoundProtocol, type BoundProtocolOptions, type BoundState } from './boundprotocol'
export { BoundEthProtocol } from './boundethprotocol'
export { type Devp2pCapability, EthProtocol } from './ethprotocol'
export {
  DEFAULT_MAX_SEND_BUFFER_BYTES,
  DEFAULT_STREAM_MAX_MESSAGE_SIZE,
  EthMessageTooLargeError,
  SendBufferFullError,
  StreamFramingError,
  StreamSender,
  StreamSenderOptionError,
  type StreamSenderOptions,
  type StreamSenderStats,
} from './streamsender'
export {
  ETH_STREAMS_PER_CONNECTION,
  type EthStreamHandler,
  StreamEthProtocol,
  type StreamSenderLimits,
  UnknownStreamProtocolError,
  ethStreamProtocolId,
  ethVersionOf,
} from './streamethprotocol'
