import { PeerError } from '../../errors'

import { Peer } from './peer'

import type { Config } from '../../config'

export interface UnconnectedPeerOptions {
  config: Config
  /** Remote node id, 128 hex characters. */
  id: string
  /** 'host:port' we dialed or that dialed us. */
  address: string
  inbound: boolean
  /** The path the attempt was on. Default 'p2p'. */
  transport?: 'rlpx' | 'p2p'
}

/**
 * A remote node that never got a session with us (e.g. it turned out to
 * speak legacy RLPx, or its Hello named another node). PEER_ERROR carries a Peer; this is the one to report
 * when no connection exists to wrap. It has no protocols and cannot connect.
 */
export class UnconnectedPeer extends Peer {
  constructor(opts: UnconnectedPeerOptions) {
    super({ ...opts, transport: opts.transport ?? 'p2p', protocols: [] })
  }

  async connect(): Promise<void> {
    throw new PeerError('ERR_PEER_NOT_CONNECTABLE', `${this.toString()} has no connection to bind protocols on`)
  }

  /** Nothing to close: there never was a session (the refused connection is closed by the server). */
  async disconnect(): Promise<void> {
    return undefined
  }
}
