import { P2PServer } from './p2pserver'
import { RlpxServer } from './rlpxserver'

import type { Config } from '../../config'

export { type PeerSession, Server, type ServerOptions, type ServerState, type ServerStats } from './server'
export { RlpxServer, RLPX_CLIENT_ID, DISCONNECT_GRACE_MS } from './rlpxserver'
export { type Enode, formatEnode, parseEnode } from './enode'
export { RlpxSessions, type RlpxSessionsOptions, type Session } from './rlpx/sessions'
export { ClientDpt } from './rlpx/dpt'
export { AuthenticatedPeer, authenticatedRemoteId } from './rlpx/devp2p'
export { HelloIdentityError, InvalidHelloIdError, UnexpectedHelloIdError, checkHelloId, helloIdentityError } from './rlpx/identity'
export { P2PServer } from './p2pserver'
export { CANDIDATES_PER_SLOT, DialScheduler, type DialSchedulerOptions, type DialTarget, dialTarget } from './dialscheduler'
export { DEVP2P_PING_REPORT_DELAY_MS, Discovery, type DiscoveryOptions } from './discovery'
export { type RlpxRefusal, rlpxRefusal } from './p2p/refusal'

/** The servers `config.server` can hold. */
export type AnyServer = RlpxServer | P2PServer

/** Builds the server `config.useP2PServer` selects. */
export function createServer(config: Config): AnyServer {
  return config.useP2PServer ? new P2PServer({ config }) : new RlpxServer({ config })
}
