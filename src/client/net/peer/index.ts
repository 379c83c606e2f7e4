export { Peer, type PeerOptions, peerIdHex } from './peer'
export { RlpxPeer, type RlpxPeerOptions } from './rlpxpeer'
