import { ServerError } from '../../errors'

import type { Config } from '../../config'
import type { Protocol } from '../protocol/protocol'

export interface ServerOptions {
  config: Config
}

/** Lifecycle of a server; `stop()` from any state ends in 'stopped', and 'stopped' can start again. */
export type ServerState = 'stopped' | 'starting' | 'started' | 'stopping'

/**
 * Base of the client's networking servers (RlpxServer; P2PServer in the
 * modular stack). A server owns discovery and the listener, turns remote
 * nodes into `Peer`s bound to its protocols, and reports them on
 * `config.events` (PEER_CONNECTED / PEER_DISCONNECTED / PEER_ERROR).
 */
export abstract class Server {
  readonly config: Config
  /** Node private key (from the config). */
  readonly key: Uint8Array
  readonly protocols = new Set<Protocol>()
  abstract readonly name: 'rlpx' | 'p2p'
  protected state: ServerState = 'stopped'

  constructor(opts: ServerOptions) {
    this.config = opts.config
    this.key = opts.config.key
  }

  get started(): boolean {
    return this.state === 'started'
  }

  /** Protocols offered to every peer; must be added before start(). */
  addProtocols(protocols: Protocol[]): void {
    if (this.state !== 'stopped') throw new ServerError('ERR_SERVER_STATE', 'addProtocols() must be called before start()')
    for (const p of protocols) this.protocols.add(p)
  }

  /** The node's enode URL; only meaningful once started (bound ports are known). */
  abstract get url(): string

  abstract start(): Promise<void>

  /** Idempotent: releases every socket, timer and listener the server opened. */
  abstract stop(): Promise<void>

  /** (Re)contacts the configured bootnodes through discovery. */
  abstract bootstrap(): Promise<void>

  /** Disconnects the peer (if connected) and refuses it for `maxAgeMs`. */
  abstract ban(peerId: string, maxAgeMs?: number): void
}
