import { RLP } from '@ethereumjs/rlp'

import { type DisconnectReason, describeDisconnectReason } from '../../../p2p'
import { disconnectReasonFor } from '../disconnect'

import { HandshakeError, PeerDisconnectedError, TransportError } from './errors'
import { EthCode, decodeStatus, hasBlockRange } from './ethmessages'
import { uintBytes } from './rlpfields'
import { Sender, type SenderMessage, type SenderOptions } from './sender'

import type { ETH as Devp2pETH, Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import type { Input } from '@ethereumjs/rlp'
import type { EthStatus } from './ethmessages'
import type { RlpItem } from './rlpfields'

export interface RlpxSenderOptions extends SenderOptions {
  /**
   * The devp2p peer carrying `eth`. Without it the sender cannot see the
   * connection end; with it, a disconnect closes the sender and a local close
   * disconnects the peer.
   */
  peer?: Devp2pPeer
  /**
   * Ends the session on a local close, with the reason of ../disconnect.ts
   * for the error that closed it (and the error's message as `detail`).
   * Default: `peer.disconnect(reason)`, which ends the socket from devp2p's
   * own 2 s timer; a peer whose server owns the socket passes its own
   * (Disconnect + immediate end).
   */
  disconnect?: (reason: DisconnectReason, detail?: string) => void
}

/** The status object devp2p's ETH emits once both Status messages are exchanged (and it validated them). */
interface Devp2pStatus {
  chainId: Uint8Array
  td: Uint8Array
  bestHash: Uint8Array
  genesisHash: Uint8Array
  forkId?: RlpItem[]
}

/**
 * What every Sender over an @ethereumjs/devp2p RLPx session shares: the
 * session's end (remote Disconnect, socket loss, devp2p errors) closes the
 * sender, and a local close disconnects the session. Subclasses bring the
 * capability object the messages travel through.
 */
export abstract class Devp2pSender extends Sender {
  protected readonly peer?: Devp2pPeer
  private readonly disconnect?: (reason: DisconnectReason, detail?: string) => void

  private readonly onPeerError = (err: Error) => this.handlePeerError(err)
  private readonly onPeerClose = (reason: number | undefined) => this.handleClose(reason)

  constructor(opts: RlpxSenderOptions) {
    super(opts)
    this.peer = opts.peer
    this.disconnect = opts.disconnect ?? (opts.peer ? (reason) => opts.peer?.disconnect(reason) : undefined)
    this.peer?.events.on('error', this.onPeerError)
    this.peer?.events.once('close', this.onPeerClose)
  }

  protected closeTransport(reason?: Error): void {
    this.detach()
    this.disconnect?.(disconnectReasonFor(reason), reason?.message)
  }

  /** Stops listening to the capability (the peer's events are released by detach()). */
  protected abstract detachCapability(): void

  /**
   * Every devp2p peer error is fatal: devp2p has already sent Disconnect (or
   * lost the socket). End the session now rather than when the socket closes,
   * which devp2p delays by up to 2 s; the error (e.g. devp2p's own Status
   * checks: "NetworkId mismatch") is the reason.
   */
  private handlePeerError(err: Error): void {
    this.detach()
    this.receiveClosed(new TransportError(`devp2p session failed: ${err.message}`, { cause: err }))
  }

  private handleClose(reason: number | undefined): void {
    this.detach()
    const name = reason === undefined ? 'connection closed' : describeDisconnectReason(reason)
    this.receiveClosed(new PeerDisconnectedError(`devp2p peer disconnected (${name})`))
  }

  protected detach(): void {
    this.detachCapability()
    this.peer?.events.off('error', this.onPeerError)
    this.peer?.events.off('close', this.onPeerClose)
  }
}

/**
 * Sender over an @ethereumjs/devp2p `ETH` capability (eth/66..68). devp2p
 * RLP-decodes inbound messages and encodes/validates Status itself (it
 * computes the fork id from the RLPx Common); we re-validate the remote Status
 * in BoundProtocol. eth/69+ travel through our own capability (RlpxWireSender).
 */
export class RlpxSender extends Devp2pSender {
  readonly version: number
  private readonly eth: Devp2pETH
  private statusSeen = false
  private held: SenderMessage[] = []

  private readonly onStatus = (s: Devp2pStatus) => this.handleStatus(s)
  private readonly onMessage = (code: number, payload: unknown) => this.handleMessage(code, payload)

  constructor(eth: Devp2pETH, opts: RlpxSenderOptions = {}) {
    super(opts)
    this.eth = eth
    this.version = eth.getVersion()
    eth.events.on('status', this.onStatus)
    eth.events.on('message', this.onMessage)
  }

  sendStatus(status: EthStatus): void {
    if (hasBlockRange(status)) throw new HandshakeError(`devp2p's ETH carries eth/66-68 only, not an eth/${status.version} Status`)
    try {
      // devp2p adds the version, network id and fork id from its own Common.
      this.eth.sendStatus({ td: uintBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash })
      this.meter.message('outbound', this.version, EthCode.Status, 0)
    } catch (err) {
      // devp2p compares the Status pair inside sendStatus when the remote's arrived first.
      throw new HandshakeError(`devp2p refused the Status exchange: ${(err as Error).message}`, { cause: err })
    }
  }

  sendMessage(code: number, payload: Input): void {
    this.eth.sendMessage(code as Parameters<Devp2pETH['sendMessage']>[0], payload)
    // devp2p encodes (and compresses) the payload itself: no size to report.
    this.meter.message('outbound', this.version, code, 0)
  }

  protected detachCapability(): void {
    this.eth.events.off('status', this.onStatus)
    this.eth.events.off('message', this.onMessage)
  }

  private handleStatus(s: Devp2pStatus): void {
    try {
      const forkId = s.forkId ?? [new Uint8Array(4), new Uint8Array(0)]
      const raw = [uintBytes(this.version), s.chainId, s.td, s.bestHash, s.genesisHash, forkId] as RlpItem[]
      this.meter.message('inbound', this.version, EthCode.Status, 0)
      this.receiveStatus(decodeStatus(raw, this.version))
    } catch (err) {
      this.receiveError(err as Error)
      return
    }
    this.statusSeen = true
    // devp2p holds the remote Status until ours is sent but passes later messages
    // on at once; restore the wire order so nothing looks like it preceded Status.
    const held = this.held
    this.held = []
    for (const m of held) this.receiveMessage(m.code, m.payload)
  }

  private handleMessage(code: number, payload: unknown): void {
    // devp2p also emits the remote Status as a plain message when it arrives; the
    // validated pair comes through 'status', so this copy is not passed on.
    if (code === EthCode.Status) return
    // Every ETH payload is a list; a bare byte string goes on re-encoded, for the codec to reject.
    const item = Array.isArray(payload) ? (payload as RlpItem[]) : RLP.encode(payload as Uint8Array)
    if (this.statusSeen) this.receiveMessage(code, item)
    else if (this.held.length < this.maxBuffered) this.held.push({ code, payload: item })
    else this.close(new HandshakeError(`more than ${this.maxBuffered} messages before the Status exchange`))
  }
}
