import { EventEmitter } from 'node:events'

import { ClientError } from './errors'

import type { Peer } from './net/peer/peer'
import type { EthStatus } from './net/protocol/ethmessages'
import type { ReputationChange } from './net/reputation'
import type { Server } from './net/server/server'

/** Every event on the client's bus (`config.events`). Values are the wire names used by EventEmitter. */
export enum Event {
  PEER_CONNECTED = 'peer:connected',
  PEER_DISCONNECTED = 'peer:disconnected',
  PEER_ERROR = 'peer:error',
  SERVER_LISTENING = 'server:listening',
  SERVER_ERROR = 'server:error',
  PROTOCOL_MESSAGE = 'protocol:message',
  PROTOCOL_ERROR = 'protocol:error',
  POOL_PEER_ADDED = 'pool:peer:added',
  POOL_PEER_REMOVED = 'pool:peer:removed',
  POOL_PEER_BANNED = 'pool:peer:banned',
  CLIENT_SHUTDOWN = 'client:shutdown',
  PEER_DISCOVERED = 'peer:discovered',
  CONNECTION_OPENED = 'connection:opened',
  CONNECTION_CLOSED = 'connection:closed',
  STREAM_OPENED = 'stream:opened',
  STREAM_CLOSED = 'stream:closed',
  /** An inbound stream of a P2P connection failed (its negotiation or its handler) and was reset. */
  STREAM_ERROR = 'stream:error',
  PROTOCOL_STATUS = 'protocol:status',
  /** A peer's score changed (src/client/net/reputation.ts); the PeerPool acts on the verdict. */
  PEER_REPUTATION = 'peer:reputation',
  SYNC_STARTED = 'sync:started',
  SYNC_PROGRESS = 'sync:progress',
  SYNC_SYNCHRONIZED = 'sync:synchronized',
  CHAIN_UPDATED = 'chain:updated',
  /** A write to the chain's dataDir failed (full disk, I/O error): the client stops itself. */
  CHAIN_FAILED = 'chain:failed',
}

/** A node seen by discovery (not yet connected). */
export interface DiscoveredPeer {
  id: string
  address: string
  /** Its discovery (UDP) port. */
  udpPort?: number
  transport: 'rlpx' | 'p2p'
}

/** A transport-level connection of the P2P stack, described without importing src/p2p. */
export interface ConnectionInfo {
  id: string
  peerId: string
  address: string
  direction: 'inbound' | 'outbound'
  /** What carries its streams: `'/mplex/6.7.0'` or `'rlpx'` (Connection.multiplexer). */
  multiplexer: string
}

/** One stream on a connection (`protocol` is '' while none is negotiated). */
export interface StreamInfo {
  connectionId: string
  streamId: string
  protocol: string
  direction: 'inbound' | 'outbound'
}

/** Progress of a sync in geth's eth_syncing terms. */
export interface SyncProgress {
  startingBlock: bigint
  currentBlock: bigint
  highestBlock: bigint
}

/** What a synchronizer tells operators (eth_syncing, the sync metrics): false while not syncing. */
export interface SyncStatusSource {
  syncing(): false | SyncProgress
}

/** A decoded protocol message as routed through the bus. */
export interface ProtocolMessage {
  name: string
  code: number
  data: unknown
}

/** A block of the chain as events name it. */
export interface BlockRef {
  height: bigint
  hash: Uint8Array
}

/** The head moved (CHAIN_UPDATED): the new head, and how many blocks left the canonical chain (a reorg). */
export interface ChainUpdatedInfo extends BlockRef {
  /** Blocks that were canonical before and are not now; 0 when the chain only grew. */
  reorged: number
}

/** Listener argument tuples per event. */
export interface EventParams {
  [Event.PEER_CONNECTED]: [peer: Peer]
  [Event.PEER_DISCONNECTED]: [peer: Peer, reason: string]
  [Event.PEER_ERROR]: [error: Error, peer: Peer]
  [Event.SERVER_LISTENING]: [details: { transport: 'rlpx' | 'p2p'; url: string }]
  [Event.SERVER_ERROR]: [error: Error, server: Server]
  [Event.PROTOCOL_MESSAGE]: [message: ProtocolMessage, protocol: string, peer: Peer]
  [Event.PROTOCOL_ERROR]: [error: Error, peer: Peer]
  [Event.PROTOCOL_STATUS]: [status: EthStatus, peer: Peer]
  [Event.POOL_PEER_ADDED]: [peer: Peer]
  [Event.POOL_PEER_REMOVED]: [peer: Peer]
  [Event.POOL_PEER_BANNED]: [peer: Peer, reason: string]
  [Event.CLIENT_SHUTDOWN]: []
  [Event.PEER_DISCOVERED]: [peer: DiscoveredPeer]
  [Event.CONNECTION_OPENED]: [connection: ConnectionInfo]
  [Event.CONNECTION_CLOSED]: [connection: ConnectionInfo, reason: string]
  [Event.STREAM_OPENED]: [stream: StreamInfo]
  [Event.STREAM_CLOSED]: [stream: StreamInfo]
  [Event.STREAM_ERROR]: [error: Error, stream: StreamInfo, peer: Peer]
  [Event.PEER_REPUTATION]: [peer: Peer, change: ReputationChange]
  [Event.SYNC_STARTED]: [info: { target: bigint; hash: Uint8Array; peer: Peer }]
  [Event.SYNC_PROGRESS]: [info: { height: bigint; target: bigint }]
  [Event.SYNC_SYNCHRONIZED]: [info: BlockRef]
  [Event.CHAIN_UPDATED]: [info: ChainUpdatedInfo]
  [Event.CHAIN_FAILED]: [error: Error]
}

export type EventListener<E extends Event> = (...args: EventParams[E]) => void

/**
 * The one typed event bus of a client. A thin wrapper over EventEmitter so
 * that emitters and listeners agree on argument types at compile time.
 *
 * The listener limit is raised because every peer, protocol and service
 * subscribes; a leak is still caught by `listenerCount` checks in tests.
 */
export class EventBus {
  private readonly emitter = new EventEmitter()

  /** Why: many peers subscribe at once; the default of 10 would warn spuriously. */
  static readonly MAX_LISTENERS = 1000

  constructor() {
    this.emitter.setMaxListeners(EventBus.MAX_LISTENERS)
  }

  on<E extends Event>(event: E, listener: EventListener<E>): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void)
    return this
  }

  once<E extends Event>(event: E, listener: EventListener<E>): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void)
    return this
  }

  off<E extends Event>(event: E, listener: EventListener<E>): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void)
    return this
  }

  emit<E extends Event>(event: E, ...args: EventParams[E]): boolean {
    return this.emitter.emit(event, ...args)
  }

  listenerCount(event: Event): number {
    return this.emitter.listenerCount(event)
  }

  /** Total listeners over all events: lets tests check that stop() unsubscribed everything. */
  totalListenerCount(): number {
    let n = 0
    for (const name of this.emitter.eventNames()) n += this.emitter.listenerCount(name)
    return n
  }

  /**
   * Resolves with the arguments of the next `event` that passes `filter`;
   * rejects with ERR_EVENT_TIMEOUT after `timeoutMs`. Removes its listener
   * and timer either way.
   */
  waitFor<E extends Event>(
    event: E,
    opts: { timeoutMs: number; filter?: (...args: EventParams[E]) => boolean },
  ): Promise<EventParams[E]> {
    return new Promise((resolve, reject) => {
      const listener = ((...args: EventParams[E]) => {
        if (opts.filter !== undefined && !opts.filter(...args)) return
        clearTimeout(timer)
        this.off(event, listener)
        resolve(args)
      }) as EventListener<E>
      const timer = setTimeout(() => {
        this.off(event, listener)
        reject(new ClientError('ERR_EVENT_TIMEOUT', `no ${event} event within ${opts.timeoutMs} ms`))
      }, opts.timeoutMs)
      this.on(event, listener)
    })
  }

  removeAllListeners(event?: Event): this {
    if (event === undefined) this.emitter.removeAllListeners()
    else this.emitter.removeAllListeners(event)
    return this
  }
}
