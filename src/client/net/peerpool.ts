import debug from 'debug'

import { DisconnectReason } from '../../p2p'
import { Event } from '../types'

import { BanList } from './banlist'

import type { Config } from '../config'
import type { EventListener, ProtocolMessage } from '../types'
import type { Peer } from './peer/peer'
import type { BlockRange } from './protocol/ethstatus'
import type { BlockHeader } from '@ethereumjs/block'

const log = debug('client:peerpool')

export interface PeerPoolOptions {
  config: Config
}

/** Why a peer was not admitted to the pool. */
export type AdmitRefusal = 'already in pool' | 'banned' | 'pool full'

/**
 * The set of usable peers (Status handshake done). Follows the server's
 * PEER_CONNECTED / PEER_DISCONNECTED events, enforces `maxPeers` and bans,
 * and keeps each peer's best-block knowledge current from announcements.
 */
export class PeerPool {
  readonly config: Config
  private readonly pool = new Map<string, Peer>()
  private readonly banned = new BanList()
  private opened = false

  constructor(opts: PeerPoolOptions) {
    this.config = opts.config
  }

  /** Subscribes to the bus. Idempotent. */
  open(): void {
    if (this.opened) return
    this.opened = true
    this.config.events.on(Event.PEER_CONNECTED, this.onConnected)
    this.config.events.on(Event.PEER_DISCONNECTED, this.onDisconnected)
    this.config.events.on(Event.PROTOCOL_MESSAGE, this.onMessage)
  }

  /** Unsubscribes and forgets every peer (the server closes their sessions). Idempotent. */
  close(): void {
    if (!this.opened) return
    this.opened = false
    this.config.events.off(Event.PEER_CONNECTED, this.onConnected)
    this.config.events.off(Event.PEER_DISCONNECTED, this.onDisconnected)
    this.config.events.off(Event.PROTOCOL_MESSAGE, this.onMessage)
    for (const peer of [...this.pool.values()]) this.remove(peer)
    this.banned.clear()
  }

  get peers(): Peer[] {
    return [...this.pool.values()]
  }

  get size(): number {
    return this.pool.size
  }

  contains(peerOrId: Peer | string): boolean {
    return this.pool.has(typeof peerOrId === 'string' ? peerOrId : peerOrId.id)
  }

  isBanned(id: string): boolean {
    return this.banned.isBanned(id)
  }

  /**
   * Admits a peer; returns the refusal reason instead when it is already
   * present, banned, or the pool holds `maxPeers` peers.
   */
  add(peer: Peer): AdmitRefusal | undefined {
    if (this.pool.has(peer.id)) return 'already in pool'
    if (this.isBanned(peer.id)) return 'banned'
    if (this.pool.size >= this.config.maxPeers) return 'pool full'
    this.pool.set(peer.id, peer)
    log('added %s (%d/%d)', peer.toString(), this.pool.size, this.config.maxPeers)
    this.config.events.emit(Event.POOL_PEER_ADDED, peer)
    return undefined
  }

  remove(peer: Peer): boolean {
    if (this.pool.get(peer.id) !== peer) return false
    this.pool.delete(peer.id)
    log('removed %s', peer.toString())
    this.config.events.emit(Event.POOL_PEER_REMOVED, peer)
    return true
  }

  /**
   * Removes the peer, refuses it for `maxAgeMs`, and has the server
   * disconnect it (with `disconnect`: the pool bans for protocol violations,
   * which geth reports as SUBPROTOCOL_ERROR) and keep it from redialing.
   */
  ban(peer: Peer, reason: string, maxAgeMs = this.config.banTimeMs, disconnect = DisconnectReason.SUBPROTOCOL_ERROR): void {
    log('banning %s for %d ms: %s', peer.toString(), maxAgeMs, reason)
    this.banned.ban(peer.id, maxAgeMs)
    this.remove(peer)
    this.config.events.emit(Event.POOL_PEER_BANNED, peer, reason)
    this.config.server.ban(peer.id, maxAgeMs, disconnect)
  }

  /** A random idle peer with a bound ETH protocol (matching `filter`), so load spreads over peers. */
  idle(filter: (peer: Peer) => boolean = () => true): Peer | undefined {
    const candidates = this.peers.filter((p) => p.idle && p.eth !== undefined && filter(p))
    if (candidates.length === 0) return undefined
    return candidates[Math.floor(Math.random() * candidates.length)]
  }

  /** The peer claiming the highest total difficulty, then the highest known block number. */
  best(): Peer | undefined {
    let best: Peer | undefined
    for (const peer of this.pool.values()) {
      if (peer.eth === undefined) continue
      if (best === undefined || comparePeers(peer, best) > 0) best = peer
    }
    return best
  }

  private readonly onConnected: EventListener<Event.PEER_CONNECTED> = (peer) => {
    const refusal = this.add(peer)
    if (refusal === undefined || refusal === 'already in pool') return
    log('refusing %s: %s', peer.toString(), refusal)
    // A bus listener has no caller to hand the failure to; the server reports the session's end either way.
    const reason = refusal === 'pool full' ? DisconnectReason.TOO_MANY_PEERS : DisconnectReason.USELESS_PEER
    peer.disconnect(reason, refusal).catch((err: unknown) => log('disconnecting refused %s failed: %o', peer.toString(), err))
  }

  private readonly onDisconnected: EventListener<Event.PEER_DISCONNECTED> = (peer) => {
    this.remove(peer)
  }

  /** Announcements move a peer's best block forward (best-header updates); BlockRangeUpdates replace its range. */
  private readonly onMessage: EventListener<Event.PROTOCOL_MESSAGE> = (msg, _protocol, peer) => {
    if (!this.pool.has(peer.id)) return
    updateBestFromAnnouncement(peer, msg)
  }
}

function updateBestFromAnnouncement(peer: Peer, msg: ProtocolMessage): void {
  if (msg.name === 'NewBlock') {
    const { block, td } = msg.data as { block: { hash(): Uint8Array; header: BlockHeader }; td: bigint }
    peer.noteAnnouncement({ hash: block.hash(), number: block.header.number, td, header: block.header })
  } else if (msg.name === 'NewBlockHashes') {
    const { hashes } = msg.data as { hashes: [Uint8Array, bigint][] }
    for (const [hash, number] of hashes) peer.noteAnnouncement({ hash, number })
  } else if (msg.name === 'BlockRangeUpdate') {
    // eth/69+: validated and rate-limited by the session before it reached the bus.
    peer.noteBlockRange(msg.data as BlockRange)
  }
}

function comparePeers(a: Peer, b: Peer): number {
  const tdA = a.td ?? 0n
  const tdB = b.td ?? 0n
  if (tdA !== tdB) return tdA > tdB ? 1 : -1
  // eth/69+ peers claim no td; their block range names their head.
  const nA = a.bestHeader?.number ?? a.blockRange?.latestBlock ?? -1n
  const nB = b.bestHeader?.number ?? b.blockRange?.latestBlock ?? -1n
  return nA === nB ? 0 : nA > nB ? 1 : -1
}
