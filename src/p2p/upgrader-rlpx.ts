import { type RlpxMuxerOptions, RlpxInvalidOptionError } from './rlpx'
import { resolveRlpxOptions } from './rlpx/options'
import { toHex } from './util/bytes'
import { LruMap } from './util/lru'

/**
 * The Upgrader's side of RLPx peers: the options of the sessions it runs and
 * its memory of which nodes speak RLPx only.
 */

/**
 * 4096 node ids (about 0.5 MiB of keys): more RLPx nodes than a node dials in
 * hours of discovery. A forgotten one costs one extra connection the next
 * time it is dialed (multistream-select first, then the redial as RLPx).
 */
export const DEFAULT_MAX_REMEMBERED_RLPX_PEERS = 4096

/** What every RLPx session of the Upgrader shares (per-connection fields are the Upgrader's). */
export type RlpxSessionOptions = Omit<
  RlpxMuxerOptions,
  'localId' | 'remoteId' | 'direction' | 'capabilities' | 'firstFrame' | 'signal' | 'listenPort' | 'helloTimeoutMs'
>

export interface RlpxUpgradeOptions extends RlpxSessionOptions {
  /**
   * Hello's listen port: a number, or a function read at each handshake (a
   * listener bound to port 0 learns its port after the Upgrader exists).
   * Default 0 (not listening). Anything but a port number reads as 0.
   */
  listenPort?: number | (() => number)
  /** RLPx-only node ids remembered for dialing; default DEFAULT_MAX_REMEMBERED_RLPX_PEERS. */
  maxRememberedPeers?: number
}

export interface ResolvedRlpxUpgradeOptions {
  maxRememberedPeers: number
  /**
   * The session options for one handshake. The Hello wait has no timer of
   * its own: the Upgrader's deadline (its signal) bounds the Hello phase.
   */
  session(): Partial<RlpxMuxerOptions>
}

/** A placeholder capability, only to validate the shared options at construction. */
const PROBE_CAPABILITY = { name: 'eth', version: 68, length: 17 }

/** Checks the options once (RlpxInvalidOptionError), so a bad one fails at construction, not on every RLPx peer. */
export function resolveRlpxUpgradeOptions(opts: RlpxUpgradeOptions, localId: Uint8Array): ResolvedRlpxUpgradeOptions {
  const { listenPort, maxRememberedPeers, ...shared } = opts
  const max = maxRememberedPeers ?? DEFAULT_MAX_REMEMBERED_RLPX_PEERS
  if (!Number.isSafeInteger(max) || max < 1) throw new RlpxInvalidOptionError(`maxRememberedPeers must be a positive integer, got ${max}`)
  const port = (): number => {
    const p = typeof listenPort === 'function' ? listenPort() : (listenPort ?? 0)
    return Number.isInteger(p) && p >= 0 && p <= 0xffff ? p : 0
  }
  const fixedPort = typeof listenPort === 'number' ? listenPort : 0
  resolveRlpxOptions({ ...shared, listenPort: fixedPort, localId, remoteId: localId, direction: 'inbound', capabilities: [PROBE_CAPABILITY] })
  return { maxRememberedPeers: max, session: () => ({ ...shared, listenPort: port(), helloTimeoutMs: Infinity }) }
}

/** Node ids known to speak RLPx only, least recently used dropped past `capacity`. */
export class RlpxPeerMemory {
  readonly #ids: LruMap<string, true>

  constructor(capacity: number) {
    this.#ids = new LruMap(capacity)
  }

  get size(): number {
    return this.#ids.size
  }

  has(id: Uint8Array): boolean {
    return this.#ids.get(toHex(id)) !== undefined
  }

  add(id: Uint8Array): void {
    this.#ids.set(toHex(id), true)
  }

  delete(id: Uint8Array): void {
    this.#ids.delete(toHex(id))
  }
}
