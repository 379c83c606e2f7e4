import { bytesToUnprefixedHex } from '@ethereumjs/util'
import debug from 'debug'

import { PeerError } from '../errors'
import { LruMap } from '../../p2p/util/lru'

import { announcedSize } from './txrelay'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { PeerKnowledge } from './knowledge'

const log = debug('client:txfetcher')

/** Bytes of announced transactions asked for in one request (eth/68 announces sizes): geth's maxTxRetrievalSize. */
export const MAX_TX_FETCH_BYTES = 128 * 1024

/**
 * Hashes remembered as refused by the pool (or delivered already), so a re-announcement does
 * not fetch them again; older ones are forgotten. geth keeps a similar set of underpriced ones.
 */
export const MAX_REMEMBERED_TXS = 16_384

/** A peer's part in transaction exchange went wrong; `provable` ones get it banned. */
export class TxFetchError extends PeerError {
  readonly provable: boolean

  constructor(code: `ERR_PEER_TX_${string}`, message: string, provable: boolean) {
    super(code, message)
    this.provable = provable
  }
}

/** The peer announced more hashes than txAnnouncementsPerPeer allows outstanding; the excess is dropped. */
export class TxAnnouncementFloodError extends TxFetchError {
  constructor(message: string) {
    super('ERR_PEER_TX_ANNOUNCE_FLOOD', message, false)
  }
}

/** Asked for announced transactions, the peer delivered none of them. */
export class TxNotDeliveredError extends TxFetchError {
  constructor(message: string) {
    super('ERR_PEER_TX_NOT_DELIVERED', message, false)
  }
}

/** The peer did not answer a GetPooledTransactions within txFetchTimeoutMs. */
export class TxFetchTimeoutError extends TxFetchError {
  constructor(message: string) {
    super('ERR_PEER_TX_FETCH_TIMEOUT', message, false)
  }
}

/** A delivered transaction's type or size differs from what the peer announced (eth/68): the peer must be dropped. */
export class TxAnnouncementMismatchError extends TxFetchError {
  constructor(message: string) {
    super('ERR_PEER_TX_ANNOUNCE_MISMATCH', message, true)
  }
}

/** What the fetcher needs of a peer (a Peer has it). */
export interface FetchPeer {
  readonly id: string
  readonly eth?: { readonly closed: boolean; getPooledTransactions(opts: { hashes: Uint8Array[] }): Promise<TypedTransaction[]> }
  toString(): string
}

export interface TxFetcherOptions {
  /** Most announced, not yet fetched hashes kept per peer. */
  maxAnnouncements: number
  /** Most hashes per GetPooledTransactions. */
  batch: number
  /** Time a peer has to deliver. */
  timeoutMs: number
  /** Whether the pool holds the transaction. */
  has: (hash: Uint8Array) => boolean
  /** Delivered transactions, for the pool. */
  deliver: (peer: FetchPeer, txs: TypedTransaction[]) => void
  report: (peer: FetchPeer, err: TxFetchError) => void
  knowledge: PeerKnowledge
}

interface Announce {
  hash: Uint8Array
  type?: number
  size?: number
}

interface Request {
  hashes: string[]
  timer: ReturnType<typeof setTimeout>
}

/**
 * Fetches announced transactions (NewPooledTransactionHashes) the pool lacks, as geth's
 * TxFetcher: each peer keeps at most `maxAnnouncements` outstanding announcements (more are
 * dropped and reported); one request per peer at a time, of at most `batch` hashes (and
 * MAX_TX_FETCH_BYTES by announced size); each hash is fetched from one peer at a time, and
 * the others that announced it are its alternates: when the peer does not deliver it (leaves
 * it out, times out, disconnects), the next announcer is asked.
 */
export class TxFetcher {
  private readonly opts: TxFetcherOptions
  private readonly announces = new Map<string, Map<string, Announce>>()
  private readonly announcers = new Map<string, Set<string>>()
  private readonly fetching = new Map<string, string>()
  private readonly requests = new Map<string, Request>()
  private readonly peers = new Map<string, FetchPeer>()
  private readonly settled = new LruMap<string, true>(MAX_REMEMBERED_TXS)

  constructor(opts: TxFetcherOptions) {
    this.opts = opts
  }

  /** Announcements outstanding at `peerId` (not yet fetched or given up). */
  outstanding(peerId: string): number {
    return this.announces.get(peerId)?.size ?? 0
  }

  /** Hashes being fetched right now, across peers. */
  get inFlight(): number {
    return this.fetching.size
  }

  /** `peer` announced these hashes (with eth/68's types and sizes when given). */
  announced(peer: FetchPeer, msg: { hashes: Uint8Array[]; types?: number[]; sizes?: number[] }): void {
    this.peers.set(peer.id, peer)
    let own = this.announces.get(peer.id)
    if (own === undefined) this.announces.set(peer.id, (own = new Map()))
    let dropped = 0
    msg.hashes.forEach((hash, i) => {
      this.opts.knowledge.markTx(peer.id, hash)
      const key = bytesToUnprefixedHex(hash)
      if (own.has(key) || this.settled.get(key) === true || this.opts.has(hash)) return
      if (own.size >= this.opts.maxAnnouncements) {
        dropped++
        return
      }
      own.set(key, { hash, type: msg.types?.[i], size: msg.sizes?.[i] })
      let who = this.announcers.get(key)
      if (who === undefined) this.announcers.set(key, (who = new Set()))
      who.add(peer.id)
    })
    if (dropped > 0) {
      this.opts.report(peer, new TxAnnouncementFloodError(`${peer.toString()} announced ${dropped} transactions beyond its ${this.opts.maxAnnouncements} outstanding; dropped`))
    }
    this.schedule(peer.id)
  }

  /** The transaction is in the pool now (or was refused by it): nothing more to fetch. */
  settle(hash: Uint8Array): void {
    const key = bytesToUnprefixedHex(hash)
    this.settled.set(key, true)
    this.forget(key)
  }

  /** The peer left: its announcements go, its fetches pass to the alternates. */
  peerRemoved(peerId: string): void {
    const request = this.requests.get(peerId)
    if (request !== undefined) {
      clearTimeout(request.timer)
      this.requests.delete(peerId)
    }
    const own = this.announces.get(peerId)
    this.announces.delete(peerId)
    this.peers.delete(peerId)
    for (const key of own?.keys() ?? []) this.dropAnnouncer(key, peerId)
  }

  stop(): void {
    for (const r of this.requests.values()) clearTimeout(r.timer)
    this.requests.clear()
    this.announces.clear()
    this.announcers.clear()
    this.fetching.clear()
    this.peers.clear()
  }

  /** Asks `peerId` for announced hashes nobody is fetching, if it has no request running. */
  private schedule(peerId: string): void {
    if (this.requests.has(peerId)) return
    const peer = this.peers.get(peerId)
    const own = this.announces.get(peerId)
    if (peer === undefined || own === undefined || peer.eth === undefined || peer.eth.closed) return
    const pick: Announce[] = []
    let bytes = 0
    for (const [key, a] of own) {
      if (pick.length >= this.opts.batch || bytes >= MAX_TX_FETCH_BYTES) break
      if (this.fetching.has(key)) continue
      if (this.opts.has(a.hash)) {
        this.settle(a.hash)
        continue
      }
      pick.push(a)
      bytes += a.size ?? 0
    }
    if (pick.length === 0) return
    const keys = pick.map((a) => bytesToUnprefixedHex(a.hash))
    for (const key of keys) this.fetching.set(key, peerId)
    const timer = setTimeout(() => this.timedOut(peer, keys), this.opts.timeoutMs)
    const request: Request = { hashes: keys, timer }
    this.requests.set(peerId, request)
    peer.eth.getPooledTransactions({ hashes: pick.map((a) => a.hash) }).then(
      (txs) => this.delivered(peer, request, txs),
      (err: unknown) => {
        if (this.requests.get(peerId) !== request) return
        log('GetPooledTransactions to %s failed: %s', peer.toString(), (err as Error).message)
        this.finish(peer, request, new Set())
      },
    )
  }

  private delivered(peer: FetchPeer, request: Request, txs: TypedTransaction[]): void {
    if (this.requests.get(peer.id) !== request) return // timed out already, or the peer left
    const own = this.announces.get(peer.id)
    const got = new Set<string>()
    for (const tx of txs) {
      const key = bytesToUnprefixedHex(tx.hash())
      const a = own?.get(key)
      if (a !== undefined && !matchesAnnouncement(tx, a)) {
        const err = new TxAnnouncementMismatchError(`${peer.toString()} announced ${key} as type ${a.type}, ${a.size} bytes; delivered type ${tx.type}, ${announcedSize(tx)} bytes`)
        this.finish(peer, request, new Set())
        this.opts.report(peer, err)
        return
      }
      got.add(key)
    }
    this.finish(peer, request, got)
    if (txs.length > 0) this.opts.deliver(peer, txs)
    if (request.hashes.every((k) => !got.has(k))) {
      this.opts.report(peer, new TxNotDeliveredError(`${peer.toString()} delivered none of the ${request.hashes.length} transactions it announced`))
    }
  }

  private timedOut(peer: FetchPeer, keys: string[]): void {
    const request = this.requests.get(peer.id)
    if (request === undefined || request.hashes !== keys) return
    this.finish(peer, request, new Set())
    this.opts.report(peer, new TxFetchTimeoutError(`${peer.toString()} did not deliver ${keys.length} announced transactions within ${this.opts.timeoutMs} ms`))
  }

  /** Ends the request: delivered hashes are done; the peer's announcement of each other one is dropped and its alternates asked. */
  private finish(peer: FetchPeer, request: Request, delivered: Set<string>): void {
    clearTimeout(request.timer)
    this.requests.delete(peer.id)
    for (const key of request.hashes) {
      if (this.fetching.get(key) === peer.id) this.fetching.delete(key)
      if (delivered.has(key)) this.settle(Uint8Array.from(Buffer.from(key, 'hex')))
      else {
        this.announces.get(peer.id)?.delete(key)
        this.dropAnnouncer(key, peer.id)
      }
    }
    this.schedule(peer.id)
  }

  /** `peerId` will not deliver `key`: forget that it announced it, and let another announcer try. */
  private dropAnnouncer(key: string, peerId: string): void {
    const who = this.announcers.get(key)
    if (this.fetching.get(key) === peerId) this.fetching.delete(key)
    if (who === undefined) return
    who.delete(peerId)
    if (who.size === 0) {
      this.announcers.delete(key)
      return
    }
    for (const other of who) this.schedule(other)
  }

  /** Drops every trace of `key`: all peers' announcements and the fetch. */
  private forget(key: string): void {
    for (const peerId of this.announcers.get(key) ?? []) this.announces.get(peerId)?.delete(key)
    this.announcers.delete(key)
    this.fetching.delete(key)
  }
}

function matchesAnnouncement(tx: TypedTransaction, a: Announce): boolean {
  if (a.type !== undefined && a.type !== tx.type) return false
  return a.size === undefined || a.size === announcedSize(tx)
}
