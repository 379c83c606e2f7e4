import debug from 'debug'
import type { Connection, HostPort } from '../connection'
import type { Upgrader } from '../upgrader'
import { throwIfAborted } from '../util/abort'
import { equalBytes } from '../util/bytes'
import { assertTimeout } from '../util/timeout'
import { connectTcp } from './connect'
import { LegacyRlpxPeerError } from '../stack-errors'
import { DialDeniedError, InvalidRemoteIdError, SelfDialError } from './errors'
import { TransportListener, type ListenerOptions } from './listener'

const log = debug('p2p:transport')

/**
 * Budget for the TCP connect alone (the upgrade then has the Upgrader's
 * handshake timeout). A reachable host answers a SYN in well under a second;
 * discovered-but-dead peers are common, and a dial slot should not wait out
 * the OS connect timeout (often over a minute) for each of them. 5 s still
 * covers a few lost SYNs (Linux retransmits the first after 1 s, the next
 * after 3 s).
 *
 * This is the transport's own default, for callers that use `src/p2p` on its
 * own. The client passes its configured `dialTimeoutMs` explicitly (its
 * default, DEFAULT_DIAL_TIMEOUT_MS in src/client/configdefaults.ts, is 10 s, chosen
 * for its dial scheduler), so the two defaults are independent on purpose:
 * `src/p2p` never imports `src/client`.
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000

/** Length of a node id: uncompressed secp256k1 public key without the 0x04 prefix. */
export const NODE_ID_LENGTH = 64

export interface TransportOptions {
  upgrader: Upgrader
  /** TCP connect timeout; default DEFAULT_DIAL_TIMEOUT_MS (5 s). */
  dialTimeoutMs?: number
  /** Defaults for every listener this transport creates. */
  listener?: ListenerOptions
}

export interface DialOptions {
  remoteId: Uint8Array
  signal?: AbortSignal
  /** Overrides `dialTimeoutMs` for this dial. */
  dialTimeoutMs?: number
}

/**
 * TCP transport: `dial` connects and upgrades; `createListener` accepts and
 * upgrades. The Upgrader's gater is consulted on both paths.
 */
export class Transport {
  readonly upgrader: Upgrader
  readonly dialTimeoutMs: number
  private readonly listenerDefaults: ListenerOptions

  constructor(opts: TransportOptions) {
    this.upgrader = opts.upgrader
    this.dialTimeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    assertTimeout(this.dialTimeoutMs, 'dialTimeoutMs')
    this.listenerDefaults = { ...opts.listener }
  }

  /**
   * Connects to `addr` and upgrades the socket, authenticating `remoteId`.
   * Refuses our own id (derived from our public key) before opening a socket.
   * A node that turns out to speak RLPx only (its Hello answered our
   * multistream-select proposal) is redialed once, as RLPx, within this call;
   * later dials to it run RLPx from the start (`Upgrader.speaksRlpx`).
   */
  async dial(addr: HostPort, opts: DialOptions): Promise<Connection> {
    const { remoteId, signal } = opts
    if (!(remoteId instanceof Uint8Array) || remoteId.length !== NODE_ID_LENGTH) {
      throw new InvalidRemoteIdError(remoteId instanceof Uint8Array ? remoteId.length : -1)
    }
    if (equalBytes(remoteId, this.upgrader.localId)) throw new SelfDialError()
    throwIfAborted(signal, 'dial')
    if (this.upgrader.gater.denyDial?.(remoteId, addr) === true) throw new DialDeniedError(addr)
    const timeoutMs = opts.dialTimeoutMs ?? this.dialTimeoutMs
    assertTimeout(timeoutMs, 'dialTimeoutMs')
    try {
      return await this.connect(addr, remoteId, timeoutMs, signal)
    } catch (err) {
      // An RLPx-only node answered multistream-select with its Hello; the Upgrader now dials it as RLPx.
      if (!(err instanceof LegacyRlpxPeerError) || !this.upgrader.speaksRlpx(remoteId)) throw err
      log('%s:%d speaks RLPx: redialing it as RLPx', addr.host, addr.port)
      return this.connect(addr, remoteId, timeoutMs, signal)
    }
  }

  private async connect(addr: HostPort, remoteId: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined): Promise<Connection> {
    const socket = await connectTcp(addr, timeoutMs, signal)
    log('connected to %s:%d, upgrading', addr.host, addr.port)
    return this.upgrader.upgradeOutbound(socket, { remoteId, signal, remoteAddr: { host: addr.host, port: addr.port } })
  }

  createListener(opts: ListenerOptions = {}): TransportListener {
    return new TransportListener(this.upgrader, { ...this.listenerDefaults, ...opts })
  }
}
