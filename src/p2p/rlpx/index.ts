/**
 * The devp2p base protocol (RLPx "p2p" v5) over the ECIES secure channel:
 * Hello, snappy, Ping/Pong, Disconnect, capability message-id layout, and
 * each shared capability as a stream (RlpxMuxer / RlpxStream), plus the
 * first-frame test that tells an RLPx peer from a multistream-select one.
 */
export { DisconnectReason, describeDisconnectReason, isDisconnectReason } from './disconnect-reason'
export * from './errors'
export * from './limits'
export {
  type Capability,
  type CapabilityName,
  type SharedCapability,
  KNOWN_CAPABILITY_LENGTHS,
  capabilitiesForProtocols,
  capabilityForId,
  capabilityProtocolId,
  matchCapabilities,
  parseCapabilityProtocolId,
} from './capabilities'
export { type Hello, decodeHello, encodeHello } from './hello'
export { NODE_ID_BYTES, checkHelloIdentity, invalidHelloIdentity } from './identity'
export { decodeDisconnectReason, encodeDisconnect, encodeMessageId, splitMessageId } from './message'
export { snappyCompress, snappyDecodedLength, snappyUncompress } from './snappy'
export { type FirstFrameKind, classifyFirstFrame, isRlpxFirstFrame, isRlpxHello, readFirstFrame } from './first-frame'
export { RlpxStream } from './capability-stream'
export { DEFAULT_RLPX_CLIENT_ID, type RlpxMuxerOptions } from './options'
export { RlpxMuxer, type RlpxDisconnect, type RlpxStatus, disconnectReasonFor } from './muxer'
export { type RefusalOptions, refuseBeforeHello } from './early-disconnect'

/** What `Connection.multiplexer` reads for a connection carried by an RlpxMuxer. */
export const RLPX_MULTIPLEXER = 'rlpx'
