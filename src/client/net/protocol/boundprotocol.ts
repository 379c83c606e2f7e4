import debug from 'debug'

import { ClientError } from '../../errors'
import { Event } from '../../types'
import { BlockRangeUpdates } from './blockrangeupdates'
import {
  DuplicateStatusError,
  EthCodecError,
  HandshakeError,
  MessageBeforeStatusError,
  PeerDisconnectedError,
  RequestArgumentError,
  StatusTimeoutError,
} from './errors'
import {
  EthCode,
  type EthMessage,
  type EthMessageName,
  type EthMessages,
  type EthRequestName,
  type EthStatus,
  MAX_HASHES_PER_REQUEST,
  MAX_HEADERS_PER_REQUEST,
  decodeEthPayload,
  encodeEthPayload,
  isResponse,
  messageName,
} from './ethmessages'
import { type RequestData, RequestTracker, type ResponseData } from './requests'
import { ReputationEvent } from '../reputation'

import type { RequestOutcome } from './meter'

import type { Config } from '../../config'
import type { Peer } from '../peer/peer'
import type { Protocol } from './protocol'
import type { Sender, SenderMessage } from './sender'

const log = debug('client:eth')

export interface BoundProtocolOptions {
  config: Config
  protocol: Protocol
  peer: Peer
  sender: Sender
  /** Runs when the handshake succeeds, before anything behind the remote Status is handled (see Protocol.bind). */
  onReady?: () => void
}

/** Session states: Status exchange first, then requests/announcements, then closed for good. */
export type BoundState = 'idle' | 'handshaking' | 'ready' | 'closed'

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/**
 * One protocol session with one peer over one Sender, transport-agnostic.
 * Runs the Status handshake (ours out, theirs in within statusTimeoutMs and
 * validated by the Protocol, at most one), then routes: responses to the
 * request waiting on their reqId, requests and announcements to the client
 * bus as PROTOCOL_MESSAGE, anything malformed or unexpected as PROTOCOL_ERROR.
 */
export class BoundProtocol {
  readonly name: string
  readonly config: Config
  readonly protocol: Protocol
  readonly peer: Peer
  readonly sender: Sender
  private state: BoundState = 'idle'
  private remoteStatus?: EthStatus
  private waiter?: Waiter
  private readonly requests: RequestTracker
  private readonly rangeUpdates: BlockRangeUpdates
  private readonly onReady?: () => void
  /** Bus events held back right after the handshake; see handleStatus. */
  private held?: (() => void)[]

  private readonly onStatus = (s: EthStatus) => this.handleStatus(s)
  private readonly onMessage = (m: SenderMessage) => this.handleMessage(m)
  private readonly onError = (err: Error) => this.handleError(err)
  private readonly onClose = (reason: Error | undefined) => this.handleClose(reason)

  constructor(opts: BoundProtocolOptions) {
    this.config = opts.config
    this.protocol = opts.protocol
    this.peer = opts.peer
    this.sender = opts.sender
    this.name = opts.protocol.name
    this.onReady = opts.onReady
    this.requests = new RequestTracker({ timeoutMs: opts.config.requestTimeoutMs, onSettled: (name, outcome, ms) => this.requestSettled(name, outcome, ms) })
    this.rangeUpdates = new BlockRangeUpdates(opts.config.maxBlockRangeUpdatesPerMinute)
  }

  /** performance.now() of the last timeout that moved the peer's score (see requestSettled). */
  private lastTimeoutAt = Number.NEGATIVE_INFINITY

  /** The remote's Status; available once handshake() resolved. */
  get status(): EthStatus {
    if (this.remoteStatus === undefined) throw new HandshakeError('no Status exchanged yet')
    return this.remoteStatus
  }

  /** The negotiated eth version. */
  get version(): number {
    return this.sender.version
  }

  get closed(): boolean {
    return this.state === 'closed'
  }

  /** Requests currently awaiting a response. */
  get inFlight(): number {
    return this.requests.size
  }

  /**
   * Sends our Status and waits for the remote's; rejects (and closes the
   * sender) on timeout, mismatch, a message before Status, or disconnect.
   */
  handshake(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new HandshakeError(`handshake() called in state ${this.state}`))
    this.state = 'handshaking'
    const done = new Promise<void>((resolve, reject) => {
      const ms = this.config.statusTimeoutMs
      const timer = setTimeout(() => this.failHandshake(new StatusTimeoutError(ms)), ms)
      this.waiter = { resolve, reject, timer }
    })
    this.sender.on('status', this.onStatus)
    this.sender.on('message', this.onMessage)
    this.sender.on('error', this.onError)
    this.sender.on('close', this.onClose)
    try {
      this.sender.sendStatus(this.protocol.createStatus(this.sender.version))
    } catch (err) {
      this.failHandshake(err as Error)
    }
    // Deliver what arrived before we attached (possibly the remote Status itself).
    if (this.state === 'handshaking') this.sender.start()
    return done
  }

  /** Sends an announcement or a response (`data` of a response carries the request's reqId). */
  send<N extends EthMessageName>(name: N, data: EthMessages[N]): void {
    if (this.state !== 'ready') throw this.notReady()
    const payload = encodeEthPayload(name, data, { version: this.version, common: this.config.common })
    this.sender.sendMessage(EthCode[name], payload)
  }

  /** Sends request `name` with a fresh reqId; resolves with the response's data. */
  request<R extends EthRequestName>(name: R, data: RequestData<R>): Promise<ResponseData<R>> {
    if (this.state !== 'ready') return Promise.reject(this.notReady())
    try {
      checkRequestLimits(name, data)
    } catch (err) {
      return Promise.reject(err)
    }
    const { reqId, promise } = this.requests.add(name, data)
    try {
      const full = { ...data, reqId } as EthMessages[R]
      const payload = encodeEthPayload(name, full, { version: this.version, common: this.config.common })
      this.sender.sendMessage(EthCode[name], payload)
    } catch (err) {
      this.requests.cancel(reqId, err as Error)
    }
    return promise
  }

  /** Ends the session from our side: pending requests fail at once, the sender closes. */
  close(reason?: Error): void {
    if (this.state === 'closed') return
    this.shutdown(new PeerDisconnectedError(`${this.name} session closed locally${reason ? `: ${reason.message}` : ''}`, { cause: reason }))
    this.sender.close(reason)
  }

  /** Every request of ours ends here: counted (metrics) and scored (reputation). */
  /**
   * Counts the request and moves the peer's score. Requests that were in flight together and
   * time out together are one stall of the peer, not several: a timeout counts only for a
   * request sent after the last timeout that counted (a sync keeps several requests in flight
   * per peer, and one stall would otherwise cost as much as that many).
   */
  private requestSettled(name: EthRequestName, outcome: RequestOutcome, ms: number): void {
    this.config.meter.request(name, outcome, ms / 1000)
    const event = REPUTATION_OF[outcome]
    if (event === undefined) return
    if (outcome === 'timeout') {
      // Same clock as the tracker's `ms` (performance.now()), so `now - ms` is when the request was sent.
      const now = performance.now()
      if (now - ms < this.lastTimeoutAt) return
      this.lastTimeoutAt = now
    }
    this.config.reputation.report(this.peer, event)
  }

  private notReady(): Error {
    if (this.state === 'closed') return new PeerDisconnectedError(`${this.name} session is closed`)
    return new HandshakeError(`${this.name} session not ready (state ${this.state})`)
  }

  private handleStatus(status: EthStatus): void {
    if (this.state === 'ready') {
      this.protocolError(new DuplicateStatusError())
      return
    }
    if (this.state !== 'handshaking') return
    try {
      this.protocol.validateStatus(status, this.sender.version)
    } catch (err) {
      this.failHandshake(err as Error)
      return
    }
    this.remoteStatus = status
    this.state = 'ready'
    // The peer stores the session now, not when its bind() promise settles: a request the
    // remote sent right behind its Status is handled next, in this same turn.
    this.onReady?.()
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) {
      clearTimeout(waiter.timer)
      waiter.resolve()
    }
    log('eth/%d session with %s ready', this.version, this.peer.toString())
    // Bus events of the new session wait for the next macrotask. By then the server has
    // announced the peer (PEER_CONNECTED follows bind() within microtasks) and the pool
    // holds it, so its first request or announcement is routed like every later one
    // (e.g. a NewBlock right behind Status updates the pooled peer's best block).
    this.held = []
    setImmediate(() => this.settle())
    this.toBus(() => this.config.events.emit(Event.PROTOCOL_STATUS, status, this.peer))
  }

  private settle(): void {
    const held = this.held ?? []
    this.held = undefined
    for (const emit of held) emit()
  }

  private toBus(emit: () => void): void {
    if (this.held !== undefined) this.held.push(emit)
    else emit()
  }

  private handleMessage({ code, payload }: SenderMessage): void {
    // Status never arrives here: every Sender delivers it as 'status' (see Sender.receiveMessage).
    if (this.state === 'closed') return
    if (this.state === 'handshaking') {
      this.failHandshake(new MessageBeforeStatusError(messageName(code, this.version) ?? `code 0x${code.toString(16)}`))
      return
    }
    let msg: EthMessage
    try {
      msg = decodeEthPayload(code, payload, { version: this.version, common: this.config.common })
    } catch (err) {
      this.protocolError(err as EthCodecError)
      return
    }
    if (isResponse(msg.name)) {
      this.handleResponse(msg)
      return
    }
    if (msg.name === 'BlockRangeUpdate') {
      try {
        this.rangeUpdates.accept(msg.data)
      } catch (err) {
        this.protocolError(err as Error)
        return
      }
    }
    this.toBus(() => this.config.events.emit(Event.PROTOCOL_MESSAGE, msg, this.name, this.peer))
  }

  private handleResponse(msg: EthMessage): void {
    const data = msg.data as { reqId: bigint } & Record<string, unknown>
    try {
      const result = this.requests.settle(data.reqId, msg.name as never, data, itemCount(msg))
      if (result === 'late') log('late %s (reqId %s) from %s dropped', msg.name, data.reqId, this.peer.toString())
    } catch (err) {
      this.protocolError(err as Error)
    }
  }

  private handleError(err: Error): void {
    if (this.state === 'handshaking') this.failHandshake(err)
    else if (this.state === 'ready') this.protocolError(err)
  }

  private handleClose(reason: Error | undefined): void {
    if (this.state === 'closed') return
    const disconnected =
      reason instanceof PeerDisconnectedError
        ? reason
        : new PeerDisconnectedError(reason ? `peer disconnected: ${reason.message}` : 'peer disconnected', { cause: reason })
    // A handshake ended by a typed transport reason (devp2p's own Status checks, ...) reports that reason.
    this.shutdown(disconnected, reason instanceof ClientError ? reason : disconnected)
  }

  /** Reports a protocol violation of the remote (PROTOCOL_ERROR; the service bans it). */
  protected protocolError(err: Error): void {
    log('protocol error from %s: %s', this.peer.toString(), err.message)
    this.toBus(() => this.config.events.emit(Event.PROTOCOL_ERROR, err, this.peer))
  }

  private failHandshake(err: Error): void {
    if (this.state !== 'handshaking') return
    this.shutdown(err)
    this.sender.close(err)
  }

  /** Final transition: detach, stop the handshake timer, fail what is pending (the handshake with `handshakeErr`). */
  private shutdown(err: Error, handshakeErr: Error = err): void {
    this.state = 'closed'
    this.sender.off('status', this.onStatus)
    this.sender.off('message', this.onMessage)
    this.sender.off('error', this.onError)
    this.sender.off('close', this.onClose)
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) {
      clearTimeout(waiter.timer)
      waiter.reject(handshakeErr)
    }
    // Events still held (see handleStatus) go out as planned: a protocol error right behind the
    // Status must still get its sender banned, even though the session ended in the same turn.
    this.requests.rejectAll(err)
  }
}

/** What a request's end says about the peer; a cancelled one (our send failed, the session ended) says nothing. */
const REPUTATION_OF: Readonly<Record<RequestOutcome, ReputationEvent | undefined>> = {
  answered: ReputationEvent.SERVED,
  timeout: ReputationEvent.TIMEOUT,
  invalid: ReputationEvent.INVALID_DATA,
  cancelled: undefined,
}

function itemCount(msg: EthMessage): number {
  switch (msg.name) {
    case 'BlockHeaders':
      return msg.data.headers.length
    case 'BlockBodies':
      return msg.data.bodies.length
    case 'Receipts':
      return msg.data.receipts.length
    case 'PooledTransactions':
      return msg.data.txs.length
    case 'NodeData':
      return msg.data.data.length
    default:
      return 0
  }
}

function checkCount(what: string, n: number, limit: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > limit) {
    throw new RequestArgumentError(`${what} must be an integer in [0, ${limit}], got ${n}`)
  }
}

/** Never ask a peer for more than the named limits (it would truncate the answer anyway). */
function checkRequestLimits(name: EthRequestName, data: RequestData<EthRequestName>): void {
  if (name === 'GetBlockHeaders') {
    const q = data as RequestData<'GetBlockHeaders'>
    checkCount('max', q.max, MAX_HEADERS_PER_REQUEST)
    checkCount('skip', q.skip, Number.MAX_SAFE_INTEGER)
  } else {
    checkCount('hashes.length', (data as { hashes: Uint8Array[] }).hashes.length, MAX_HASHES_PER_REQUEST)
  }
}
