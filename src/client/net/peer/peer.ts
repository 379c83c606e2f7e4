import { equalsBytes } from '@ethereumjs/util'

import { type BlockRange, hasBlockRange, statusHead } from '../protocol/ethstatus'

import { ReputationEvent } from '../reputation'

import type { BlockHeader } from '@ethereumjs/block'
import type { DisconnectReason } from '../../../p2p'
import type { Config } from '../../config'
import type { BoundEthProtocol } from '../protocol/boundethprotocol'
import type { Protocol } from '../protocol/protocol'
import type { Sender } from '../protocol/sender'

export interface PeerOptions {
  config: Config
  /** Remote node id, 128 hex characters. */
  id: string
  /** 'host:port' of the remote TCP endpoint. */
  address: string
  inbound: boolean
  transport: 'rlpx' | 'p2p'
  /** Protocols to bind on connect(). */
  protocols: Protocol[]
}

/** Bytes exchanged with a peer, as its transport counts them (encryption and framing included). */
export interface ByteCounts {
  bytesIn: number
  bytesOut: number
}

/**
 * One remote node, whatever carries its bytes. Subclasses (RlpxPeer,
 * P2PPeer) only differ in how they obtain a Sender per protocol; the bound
 * protocol (`eth`) and the best-header bookkeeping are shared.
 */
export abstract class Peer {
  readonly config: Config
  readonly id: string
  readonly address: string
  readonly inbound: boolean
  readonly transport: 'rlpx' | 'p2p'
  /** The bound ETH protocol, set once the Status handshake succeeded. */
  eth?: BoundEthProtocol
  /** False while a component (e.g. a fetcher) has claimed the peer for a job. */
  idle = true
  protected readonly protocols: Protocol[]
  private announced?: { hash: Uint8Array; number?: bigint; td?: bigint }
  private announcedRange?: BlockRange
  private bestHeaderValue?: BlockHeader

  constructor(opts: PeerOptions) {
    this.config = opts.config
    this.id = opts.id
    this.address = opts.address
    this.inbound = opts.inbound
    this.transport = opts.transport
    this.protocols = opts.protocols
  }

  /** Makes the peer usable: (dial if needed, then) bind every protocol. Rejects with the reason on failure. */
  abstract connect(): Promise<void>

  /**
   * Closes the session with the remote, telling it `reason` where the
   * transport can (a devp2p Disconnect on RLPx; on mplex the reason is only
   * logged and reported in PEER_DISCONNECTED). `detail` says more, for logs
   * and events. Idempotent: the first reason stands. See ../disconnect.ts for
   * which reason each way a session ends gets.
   */
  abstract disconnect(reason?: DisconnectReason, detail?: string): Promise<void>

  /**
   * Runs the protocol's handshake over `sender`; the bound protocol is
   * available (`eth`) from the moment the remote Status is accepted, before
   * any message behind it is handled.
   */
  async bindProtocol(protocol: Protocol, sender: Sender): Promise<void> {
    await protocol.bind(this, sender, {
      onReady: (bound) => {
        if (protocol.name === 'eth') this.eth = bound
      },
    })
  }

  /** The remote's client name from its devp2p Hello ("Geth/v1.14..."); undefined when the transport has none. */
  get clientName(): string | undefined {
    return undefined
  }

  /** Capabilities the remote speaks with us, as geth lists them ("eth/68"). */
  get capabilities(): string[] {
    return this.eth === undefined ? [] : [`eth/${this.eth.version}`]
  }

  /** Our end of the connection ('host:port'); undefined when the transport does not expose it. */
  get localAddress(): string | undefined {
    return undefined
  }

  /** Bytes exchanged with the remote so far; undefined when the transport does not count them. */
  get bytes(): ByteCounts | undefined {
    return undefined
  }

  /** Reputation score (src/client/net/reputation.ts): kept per node id, so it survives reconnects. */
  get score(): number {
    return this.config.reputation.score(this.id)
  }

  /** Hash of the best block the remote told us about (announcement or block range, else its Status). */
  get bestHash(): Uint8Array | undefined {
    const status = this.eth?.status
    return this.announced?.hash ?? (status === undefined ? undefined : statusHead(status).hash)
  }

  /**
   * Number of the best block the remote told us about, when known: announced (eth/69+ with
   * every BlockRangeUpdate and in its Status), or learnt from the header we fetched for it.
   */
  get bestNumber(): bigint | undefined {
    if (this.announced?.number !== undefined) return this.announced.number
    const status = this.eth?.status
    if (this.announced === undefined && status !== undefined) {
      const claimed = statusHead(status).number
      if (claimed !== undefined) return claimed
    }
    const header = this.bestHeaderValue
    const hash = this.bestHash
    return header !== undefined && hash !== undefined && equalsBytes(header.hash(), hash) ? header.number : undefined
  }

  /** Total difficulty the remote claimed last (announcement, else its Status); eth/69+ peers claim none. */
  get td(): bigint | undefined {
    const status = this.eth?.status
    return this.announced?.td ?? (status === undefined ? undefined : statusHead(status).td)
  }

  /**
   * The full blocks the remote serves (eth/69+): its last BlockRangeUpdate,
   * else the range of its Status; undefined up to eth/68.
   */
  get blockRange(): BlockRange | undefined {
    const status = this.eth?.status
    return this.announcedRange ?? (status !== undefined && hasBlockRange(status) ? status : undefined)
  }

  /** Last header fetched by latest() or learnt from a NewBlock. */
  get bestHeader(): BlockHeader | undefined {
    return this.bestHeaderValue
  }

  /**
   * Records a block the remote announced (NewBlockHashes / NewBlock). Only a
   * better block replaces what is known (announcements arrive out of order):
   * a higher total difficulty when both carry one, else a higher number.
   */
  noteAnnouncement(a: { hash: Uint8Array; number?: bigint; td?: bigint; header?: BlockHeader }): void {
    const known = this.announced
    // On a PoS chain every total difficulty is equal: then the number decides.
    const byTd = a.td !== undefined && known?.td !== undefined && a.td !== known.td
    const better = known === undefined || (byTd ? a.td! > known.td! : (a.number ?? -1n) > (known.number ?? -1n))
    if (!better) return
    this.announced = { hash: a.hash, number: a.number, td: a.td ?? known?.td }
    if (a.header !== undefined) this.bestHeaderValue = a.header
  }

  /**
   * Records a BlockRangeUpdate (eth/69+, already validated by the session):
   * it replaces the range, and its latest block counts as an announcement of
   * the remote's head (a range that moved back, e.g. after a reorg, is the
   * remote's head all the same).
   */
  noteBlockRange(range: BlockRange): void {
    this.announcedRange = range
    this.announced = { hash: range.latestBlockHash, number: range.latestBlock }
  }

  /** Fetches the header of the remote's best block; undefined if the peer has no eth protocol or does not know it. */
  async latest(): Promise<BlockHeader | undefined> {
    const eth = this.eth
    const hash = this.bestHash
    if (eth === undefined || hash === undefined) return undefined
    const [header] = await eth.getBlockHeaders({ block: hash, max: 1 })
    // A peer that cannot serve the head it claims has nothing to sync from.
    if (header === undefined) this.config.reputation.report(this, ReputationEvent.USELESS)
    else this.bestHeaderValue = header
    return header
  }

  toString(): string {
    return `${this.id.slice(0, 8)}@${this.address}`
  }
}

/**
 * Node ids travel as bytes in devp2p and as hex in the client. Built by
 * Buffer in one piece: @ethereumjs/util's bytesToUnprefixedHex appends two
 * characters at a time, and V8 keeps such a string as a rope of ~64 cons
 * cells (~1.8 KiB for a 64-byte id, instead of ~150 B) for as long as the
 * peer holds it.
 */
export function peerIdHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}
