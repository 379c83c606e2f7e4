import debug from 'debug'

import { MAX_RECEIPTS_SERVE } from '../blockchain/chain'
import { ServiceError } from '../errors'
import { EthProtocol } from '../net/protocol/ethprotocol'
import { StreamEthProtocol } from '../net/protocol/streamethprotocol'
import { Event } from '../types'

import { collectPartialReceipts } from './receipts'
import { BlockAnnouncer } from './blockannouncer'
import { DevBlockProducer } from './devproducer'
import { PeerKnowledge } from './knowledge'
import { RequestFloodError, ServeQueue } from './servequeue'
import { Service, type ServiceOptions } from './service'
import { type TxFetchError, TxFetcher } from './txfetcher'
import { TxPool } from './txpool'
import { TxRelay } from './txrelay'

import { type EthMessage, type EthMessageName, type EthMessages, hasPartialReceipts } from '../net/protocol/ethmessages'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { ChainUpdate } from '../blockchain/chain'
import type { Peer } from '../net/peer/peer'
import type { Protocol } from '../net/protocol/protocol'
import type { EventListener } from '../types'

const log = debug('client:service:eth')

/** Requests the service answers; they wait their turn in the ServeQueue. */
const SERVED = new Set<string>(['GetBlockHeaders', 'GetBlockBodies', 'GetReceipts', 'GetPooledTransactions', 'GetNodeData'])

/** Messages the service answers or consumes; anything else reaching it is a protocol violation. */
type Handled = 'GetBlockHeaders' | 'GetBlockBodies' | 'GetReceipts' | 'GetPooledTransactions' | 'GetNodeData'
  | 'Transactions' | 'NewPooledTransactionHashes' | 'NewBlockHashes' | 'NewBlock' | 'BlockRangeUpdate'

/**
 * The full-node service: serves the chain and the transaction pool to peers
 * over eth, and spreads what is new: every head move is announced (BlockAnnouncer),
 * every transaction entering the pool is relayed (TxRelay), announced transactions
 * are fetched (TxFetcher), and with `devPeriod` the node produces blocks
 * (DevBlockProducer). It bans peers that violate the protocol (PROTOCOL_ERROR, or
 * a message a peer must not send us). Requests are served through a ServeQueue:
 * one at a time per peer, peers taking turns, so a peer's burst delays only that
 * peer; a peer with more than `maxQueuedRequests` waiting is banned for flooding.
 */
export class FullEthereumService extends Service {
  readonly txPool: TxPool
  /** What each peer is known to have (blocks, transactions), shared with the synchronizer. */
  readonly knowledge: PeerKnowledge
  /** Set when `devPeriod` > 0. */
  readonly producer?: DevBlockProducer
  private readonly serveQueue: ServeQueue<Peer>
  private readonly announcer: BlockAnnouncer
  private readonly relay: TxRelay
  private readonly fetcher: TxFetcher
  private ethProtocol?: EthProtocol
  private streamEthProtocol?: StreamEthProtocol

  constructor(opts: ServiceOptions) {
    super(opts)
    const config = opts.config
    this.txPool = new TxPool({ common: config.common, maxSize: config.txPoolMaxSize, chain: opts.chain })
    this.serveQueue = new ServeQueue({ concurrency: config.serveConcurrency, maxQueuedPerPeer: config.maxQueuedRequests })
    this.knowledge = new PeerKnowledge({ maxKnownBlocks: config.maxKnownBlocks, maxKnownTxs: config.maxKnownTxs })
    this.announcer = new BlockAnnouncer({ pool: this.pool, knowledge: this.knowledge, chain: opts.chain, rangeIntervalMs: config.blockRangeUpdateIntervalMs })
    this.relay = new TxRelay({ pool: this.pool, txPool: this.txPool, knowledge: this.knowledge })
    this.fetcher = new TxFetcher({
      maxAnnouncements: config.txAnnouncementsPerPeer,
      batch: config.txFetchBatch,
      timeoutMs: config.txFetchTimeoutMs,
      has: (hash) => this.txPool.has(hash),
      deliver: (peer, txs) => this.addFromPeer(txs, peer as Peer),
      report: (peer, err) => this.reportTxPeer(peer as Peer, err),
      knowledge: this.knowledge,
    })
    if (config.devPeriod > 0) {
      this.producer = new DevBlockProducer({
        chain: opts.chain,
        txPool: this.txPool,
        periodMs: Math.max(1, Math.round(config.devPeriod * 1000)),
        onError: (err) => log('block production failed: %s', err.message),
      })
    }
  }

  get name(): string {
    return 'eth'
  }

  /** Peers' requests being served now and waiting their turn (operators see it as eth_serve_queue). */
  get serveLoad(): { running: number; waiting: number } {
    return { running: this.serveQueue.running, waiting: this.serveQueue.waitingTotal }
  }

  /** EthProtocol under an RlpxServer, StreamEthProtocol (eth over mplex streams) under a P2PServer. */
  get protocols(): Protocol[] {
    const server = this.config.server
    switch (server.name) {
      case 'rlpx':
        this.ethProtocol ??= new EthProtocol({ config: this.config, chain: this.chain })
        return [this.ethProtocol]
      case 'p2p':
        this.streamEthProtocol ??= new StreamEthProtocol({ config: this.config, chain: this.chain })
        return [this.streamEthProtocol]
    }
  }

  protected subscribe(): void {
    this.config.events.on(Event.PROTOCOL_MESSAGE, this.onMessage)
    this.config.events.on(Event.PROTOCOL_ERROR, this.onProtocolError)
    this.config.events.on(Event.PEER_DISCONNECTED, this.onDisconnected)
    this.config.events.on(Event.POOL_PEER_REMOVED, this.onPeerRemoved)
    this.chain.events.on('updated', this.onHeadMoved)
    this.txPool.on('added', this.onPooled)
    this.relay.start()
    this.producer?.start()
  }

  protected unsubscribe(): void {
    this.config.events.off(Event.PROTOCOL_MESSAGE, this.onMessage)
    this.config.events.off(Event.PROTOCOL_ERROR, this.onProtocolError)
    this.config.events.off(Event.PEER_DISCONNECTED, this.onDisconnected)
    this.config.events.off(Event.POOL_PEER_REMOVED, this.onPeerRemoved)
    this.chain.events.off('updated', this.onHeadMoved)
    this.txPool.off('added', this.onPooled)
    this.relay.stop()
    this.fetcher.stop()
    this.announcer.stop()
    this.knowledge.clear()
    this.serveQueue.clear()
  }

  /** Stops producing (waiting for a block being built) before the handlers go. */
  override async stop(): Promise<void> {
    await this.producer?.stop()
    await super.stop()
  }

  override async close(): Promise<void> {
    await super.close()
    this.txPool.clear()
  }

  /** The head moved: the pool follows it, the peers hear of it. */
  private readonly onHeadMoved = (update: ChainUpdate): void => {
    void this.txPool.onHead(update)
    this.announcer.announce({ height: update.head.height, hash: update.head.latest.hash() })
  }

  private readonly onPooled = (tx: TypedTransaction): void => {
    this.fetcher.settle(tx.hash())
  }

  private readonly onPeerRemoved: EventListener<Event.POOL_PEER_REMOVED> = (peer) => {
    this.fetcher.peerRemoved(peer.id)
    this.knowledge.forget(peer.id)
  }

  private readonly onProtocolError: EventListener<Event.PROTOCOL_ERROR> = (err, peer) => {
    const reason = `protocol error: ${err.message}`
    log('banning %s: %s', peer.toString(), reason)
    this.pool.ban(peer, reason)
  }

  private readonly onDisconnected: EventListener<Event.PEER_DISCONNECTED> = (peer) => {
    const dropped = this.serveQueue.drop(peer)
    if (dropped > 0) log('dropped %d requests of %s waiting to be served: disconnected', dropped, peer.toString())
  }

  private readonly onMessage: EventListener<Event.PROTOCOL_MESSAGE> = (message, protocol, peer) => {
    if (protocol !== 'eth') return
    this.handle(message as EthMessage, peer).catch((err: unknown) => {
      if (!(err instanceof RequestFloodError)) return this.reportFailure(message.name, peer, err)
      // Its waiting requests and the rest of the burst are not served; the ban ends the session.
      this.serveQueue.drop(peer)
      this.pool.ban(peer, err.message)
    })
  }

  /**
   * Answers or consumes one inbound eth message from `peer`; a request
   * resolves once it is answered (after the peer's earlier requests), or
   * rejects with RequestFloodError when the peer has too many waiting.
   */
  async handle(msg: EthMessage, peer: Peer): Promise<void> {
    if (SERVED.has(msg.name)) return this.serveQueue.run(peer, () => this.serve(msg, peer))
    switch (msg.name as Handled | EthMessageName) {
      case 'Transactions':
        return this.onTransactions(msg.data as EthMessages['Transactions'], peer)
      case 'NewPooledTransactionHashes':
        return this.onPooledHashes(msg.data as EthMessages['NewPooledTransactionHashes'], peer)
      case 'NewBlockHashes':
        // The PeerPool moves the peer's best block forward; the Synchronizer follows it.
        return this.announcer.noteAnnounced(peer, (msg.data as EthMessages['NewBlockHashes']).hashes.map(([hash]) => hash))
      case 'NewBlock':
        return this.announcer.noteAnnounced(peer, [(msg.data as EthMessages['NewBlock']).block.hash()])
      case 'BlockRangeUpdate':
        // The PeerPool records the range as the peer's head; the Synchronizer follows it.
        return this.announcer.noteAnnounced(peer, [(msg.data as EthMessages['BlockRangeUpdate']).latestBlockHash])
      default:
        this.pool.ban(peer, `unexpected ${msg.name} message`)
    }
  }

  /** Answers one request, in the peer's turn; a session that ended while it waited gets nothing. */
  private async serve(msg: EthMessage, peer: Peer): Promise<void> {
    if (peer.eth === undefined || peer.eth.closed) {
      log('not serving %s to %s: session closed', msg.name, peer.toString())
      return
    }
    switch (msg.name as Handled) {
      case 'GetBlockHeaders':
        return this.onGetBlockHeaders(msg.data as EthMessages['GetBlockHeaders'], peer)
      case 'GetBlockBodies':
        return this.onGetBlockBodies(msg.data as EthMessages['GetBlockBodies'], peer)
      case 'GetReceipts':
        return this.onGetReceipts(msg.data as EthMessages['GetReceipts'], peer)
      case 'GetPooledTransactions':
        return this.onGetPooledTransactions(msg.data as EthMessages['GetPooledTransactions'], peer)
      case 'GetNodeData':
        return this.onGetNodeData(msg.data as EthMessages['GetNodeData'], peer)
    }
  }

  private async onGetBlockHeaders(req: EthMessages['GetBlockHeaders'], peer: Peer): Promise<void> {
    const max = Math.min(req.max, this.config.maxServeItems)
    const headers = await this.chain.getHeaders(req.block, max, req.skip, req.reverse)
    this.reply(peer, 'BlockHeaders', { reqId: req.reqId, headers })
  }

  private async onGetBlockBodies(req: EthMessages['GetBlockBodies'], peer: Peer): Promise<void> {
    const hashes = req.hashes.slice(0, this.config.maxServeItems)
    const bodies = await this.chain.getBodies(hashes, { softLimitBytes: this.config.responseSoftLimit })
    this.reply(peer, 'BlockBodies', { reqId: req.reqId, bodies })
  }

  /** Whole lists up to eth/69; from eth/70 on a list may be split at the soft limit (see receipts.ts). */
  private async onGetReceipts(req: EthMessages['GetReceipts'], peer: Peer): Promise<void> {
    const hashes = req.hashes.slice(0, this.config.maxServeItems)
    if (peer.eth !== undefined && hasPartialReceipts(peer.eth.version)) {
      const lookup = async (hash: Uint8Array): Promise<Uint8Array[] | undefined> => (await this.chain.getReceipts([hash]))[0]
      const limits = { softLimitBytes: this.config.responseSoftLimit, maxBlocks: MAX_RECEIPTS_SERVE }
      const reply = await collectPartialReceipts(hashes, req.firstBlockReceiptIndex ?? 0n, lookup, limits)
      this.reply(peer, 'Receipts', { reqId: req.reqId, ...reply })
      return
    }
    const receipts = await this.chain.getReceipts(hashes, { softLimitBytes: this.config.responseSoftLimit })
    this.reply(peer, 'Receipts', { reqId: req.reqId, receipts })
  }

  /** eth/66 only: state trie nodes and contract code from the chain's executed state (see Chain.getNodeData). */
  private async onGetNodeData(req: EthMessages['GetNodeData'], peer: Peer): Promise<void> {
    const hashes = req.hashes.slice(0, this.config.maxServeItems)
    const data = await this.chain.getNodeData(hashes, { softLimitBytes: this.config.responseSoftLimit })
    this.reply(peer, 'NodeData', { reqId: req.reqId, data })
  }

  private onGetPooledTransactions(req: EthMessages['GetPooledTransactions'], peer: Peer): void {
    const txs = this.txPool.getByHash(req.hashes.slice(0, this.config.maxServeItems))
    const out = []
    let bytes = 0
    for (const tx of txs) {
      if (bytes >= this.config.responseSoftLimit) break
      out.push(tx)
      bytes += tx.serialize().length
    }
    this.reply(peer, 'PooledTransactions', { reqId: req.reqId, txs: out })
  }

  private onTransactions(msg: EthMessages['Transactions'], peer: Peer): void {
    for (const tx of msg.txs) this.knowledge.markTx(peer.id, tx.hash())
    this.addFromPeer(msg.txs, peer)
  }

  /** Announced transactions are fetched by the TxFetcher (limits per peer, one fetch per hash). */
  private onPooledHashes(msg: EthMessages['NewPooledTransactionHashes'], peer: Peer): void {
    this.fetcher.announced(peer, msg)
  }

  /**
   * Pools transactions a peer sent. One the pool refuses (stale, outbid, ...) can travel for
   * reasons that are not the relaying peer's fault: it is dropped, the peer is not penalised.
   */
  private addFromPeer(txs: readonly TypedTransaction[], peer: Peer): void {
    for (const tx of txs) {
      this.txPool.add(tx, peer.id).catch((err: unknown) => {
        this.fetcher.settle(tx.hash())
        log('dropping transaction from %s: %s', peer.toString(), (err as Error).message)
      })
    }
  }

  /** A peer failed its part of transaction exchange: reported, and banned when provably bad. */
  private reportTxPeer(peer: Peer, err: TxFetchError): void {
    log('%s: %s', peer.toString(), err.message)
    this.config.events.emit(Event.PEER_ERROR, err, peer)
    if (err.provable && this.pool.contains(peer)) this.pool.ban(peer, err.message)
  }

  private reply<N extends EthMessageName>(peer: Peer, name: N, data: EthMessages[N]): void {
    const eth = peer.eth
    if (eth === undefined || eth.closed) {
      log('not sending %s to %s: session closed', name, peer.toString())
      return
    }
    eth.send(name, data)
  }

  /** A request we failed to serve is our problem, not the peer's: report it, do not ban. */
  private reportFailure(name: string, peer: Peer, err: unknown): void {
    const error = new ServiceError('ERR_SERVICE_HANDLER', `handling ${name} from ${peer.toString()} failed: ${(err as Error).message}`, { cause: err })
    log(error.message)
    this.config.events.emit(Event.PEER_ERROR, error, peer)
  }
}
