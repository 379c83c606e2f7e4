import { NotAvailableError } from '../../errors'

import { RlpxServer } from './rlpxserver'

import type { Config } from '../../config'

export { Server, type ServerOptions, type ServerState } from './server'
export { RlpxServer, RLPX_CLIENT_ID, DISCONNECT_GRACE_MS } from './rlpxserver'
export { type Enode, formatEnode, parseEnode } from './enode'
export { RlpxSessions, type RlpxSessionsOptions, type Session } from './rlpxsessions'
export { ClientDpt } from './dpt'

/** The servers `config.server` can hold (the P2P stack's server joins this union). */
export type AnyServer = RlpxServer

/** Builds the server `config.useP2PServer` selects. */
export function createServer(config: Config): AnyServer {
  if (config.useP2PServer) {
    throw new NotAvailableError('useP2PServer: the modular P2P stack (P2PServer) is not available yet; use the RLPx path (useP2PServer: false)')
  }
  return new RlpxServer({ config })
}
