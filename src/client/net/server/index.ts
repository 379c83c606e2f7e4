import { P2PServer } from './p2pserver'
import { RlpxServer } from './rlpxserver'

import type { Config } from '../../config'

export { Server, type ServerOptions, type ServerState } from './server'
export { RlpxServer, RLPX_CLIENT_ID, DISCONNECT_GRACE_MS } from './rlpxserver'
export { type Enode, formatEnode, parseEnode } from './enode'
export { RlpxSessions, type RlpxSessionsOptions, type Session } from './rlpxsessions'
export { ClientDpt } from './dpt'
export { P2PServer } from './p2pserver'
export { DEFAULT_REDIAL_BACKOFF_MS } from './p2p-dialer'
export { LegacyRlpxPeerError, isLegacyRlpxFailure } from './p2p-legacy'

/** The servers `config.server` can hold. */
export type AnyServer = RlpxServer | P2PServer

/** Builds the server `config.useP2PServer` selects. */
export function createServer(config: Config): AnyServer {
  return config.useP2PServer ? new P2PServer({ config }) : new RlpxServer({ config })
}
