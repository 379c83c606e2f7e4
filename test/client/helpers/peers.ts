import { Peer } from '../../../src/client/net/peer/peer'

import type { Config } from '../../../src/client/config'

/**
 * The smallest real Peer: no transport of its own. Protocol-layer tests hand
 * it a Sender (a memory pair, a StreamSender over a duplex pair); the bound
 * protocol only needs its id and config.
 */
export class TestPeer extends Peer {
  constructor(config: Config, id = 'ab'.repeat(64), transport: 'rlpx' | 'p2p' = 'rlpx') {
    super({ config, id, address: '127.0.0.1:0', inbound: false, transport, protocols: [] })
  }

  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {
    this.eth?.close()
  }
}
