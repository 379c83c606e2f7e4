export * from './errors'
export * from './ethmessages'
export { type ForkIdHead, type ForkId, type GenesisInfo, computeForkId, validateForkId } from './forkid'
export { type RlpItem } from './rlpfields'
export { MAX_RLP_DEPTH, decodeRlp } from './rlpdecode'
export { DEFAULT_MAX_BUFFERED, Sender, type SenderEvents, type SenderMessage, type SenderOptions } from './sender'
export { RlpxSender, type RlpxSenderOptions } from './rlpxsender'
export { MAX_REMEMBERED_TIMEOUTS, type RequestData, type ResponseData } from './requests'
export { type BindOptions, Protocol, type ProtocolOptions } from './protocol'
export { BoundEthProtocol, BoundProtocol, type BoundProtocolOptions, type BoundState } from './boundprotocol'
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
