export { type ByteCounts, Peer, type PeerOptions, peerIdHex } from './peer'
export { RlpxPeer, type RlpxPeerOptions } from './rlpxpeer'
export { DEFAULT_STREAM_CLOSE_TIMEOUT_MS, P2PPeer, type P2PPeerOptions, streamKey } from './p2ppeer'
export { UnconnectedPeer, type UnconnectedPeerOptions } from './unconnectedpeer'
