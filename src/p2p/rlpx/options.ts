import { MAX_RLPX_FRAME_SIZE } from '../crypto/limits'
import type { StreamDirection } from '../muxer'
import { assertTimeout } from '../util/timeout'
import { type Capability, validateCapabilities } from './capabilities'
import { RlpxInvalidOptionError } from './errors'
import {
  DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK,
  DEFAULT_DISCONNECT_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_RLPX_MAX_FRAME_SIZE,
  DEFAULT_RLPX_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PINGS_PER_WINDOW,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_WINDOW_MS,
  DEFAULT_PONG_TIMEOUT_MS,
} from './limits'

/** setTimeout's largest delay (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** What this node says about itself in Hello, besides its capabilities. */
export const DEFAULT_RLPX_CLIENT_ID = 'ethp2p'

export interface RlpxMuxerOptions {
  /** This node's 64-byte id (uncompressed public key without 0x04): our Hello's node id. */
  localId: Uint8Array
  /** The remote's id as the ECIES handshake authenticated it; its Hello must name the same. */
  remoteId: Uint8Array
  /** The connection's direction; the listener announces its streams through `start(onStream)`. */
  direction: StreamDirection
  /** Capabilities we run (see capabilitiesForProtocols); only the shared ones become streams. */
  capabilities: readonly Capability[]
  /** Hello client id; default DEFAULT_RLPX_CLIENT_ID. */
  clientId?: string
  /** Hello listen port (legacy; 0 = not listening); default 0. */
  listenPort?: number
  /** The channel's first frame, when readFirstFrame already took it (the listener's classification). */
  firstFrame?: Uint8Array
  /** Aborts the Hello exchange (the Upgrader's deadline). No effect once the session is open. */
  signal?: AbortSignal
  /** Default DEFAULT_HELLO_TIMEOUT_MS (5 s); Infinity to rely on `signal` alone. */
  helloTimeoutMs?: number
  /** Default DEFAULT_PING_INTERVAL_MS (15 s). */
  pingIntervalMs?: number
  /** Default DEFAULT_PONG_TIMEOUT_MS (15 s). */
  pongTimeoutMs?: number
  /** Default DEFAULT_MAX_PINGS_PER_WINDOW (20) per DEFAULT_PING_WINDOW_MS (15 s). */
  maxPingsPerWindow?: number
  pingWindowMs?: number
  /** Default DEFAULT_DISCONNECT_TIMEOUT_MS (2 s). */
  disconnectTimeoutMs?: number
  /** Largest uncompressed message of any kind; default DEFAULT_RLPX_MAX_MESSAGE_SIZE (16 MiB - 1). */
  maxMessageSize?: number
  /** Largest inbound frame while the channel carries RLPx; default DEFAULT_RLPX_MAX_FRAME_SIZE (16 MiB - 1). */
  maxFrameSize?: number
  /** Unread bytes at which a capability stream stops the session reading; default 128 KiB. */
  streamHighWaterMark?: number
}

export interface ResolvedRlpxOptions {
  localId: Uint8Array
  remoteId: Uint8Array
  direction: StreamDirection
  capabilities: readonly Capability[]
  clientId: string
  listenPort: number
  helloTimeoutMs: number
  pingIntervalMs: number
  pongTimeoutMs: number
  maxPingsPerWindow: number
  pingWindowMs: number
  disconnectTimeoutMs: number
  maxMessageSize: number
  maxFrameSize: number
  streamHighWaterMark: number
}

export function resolveRlpxOptions(opts: RlpxMuxerOptions): ResolvedRlpxOptions {
  const resolved: ResolvedRlpxOptions = {
    localId: opts.localId,
    remoteId: opts.remoteId,
    direction: opts.direction,
    capabilities: opts.capabilities,
    clientId: opts.clientId ?? DEFAULT_RLPX_CLIENT_ID,
    listenPort: opts.listenPort ?? 0,
    helloTimeoutMs: opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
    pingIntervalMs: opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    pongTimeoutMs: opts.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS,
    maxPingsPerWindow: opts.maxPingsPerWindow ?? DEFAULT_MAX_PINGS_PER_WINDOW,
    pingWindowMs: opts.pingWindowMs ?? DEFAULT_PING_WINDOW_MS,
    disconnectTimeoutMs: opts.disconnectTimeoutMs ?? DEFAULT_DISCONNECT_TIMEOUT_MS,
    maxMessageSize: opts.maxMessageSize ?? DEFAULT_RLPX_MAX_MESSAGE_SIZE,
    maxFrameSize: opts.maxFrameSize ?? DEFAULT_RLPX_MAX_FRAME_SIZE,
    streamHighWaterMark: opts.streamHighWaterMark ?? DEFAULT_CAPABILITY_STREAM_HIGH_WATER_MARK,
  }
  for (const [name, id] of [['localId', resolved.localId], ['remoteId', resolved.remoteId]] as const) {
    if (!(id instanceof Uint8Array) || id.length !== 64) throw new RlpxInvalidOptionError(`${name} must be a 64-byte node id`)
  }
  if (resolved.direction !== 'inbound' && resolved.direction !== 'outbound') throw new RlpxInvalidOptionError(`direction ${String(resolved.direction)}`)
  validateCapabilities(resolved.capabilities)
  if (!Number.isInteger(resolved.listenPort) || resolved.listenPort < 0 || resolved.listenPort > 0xffff) {
    throw new RlpxInvalidOptionError(`listenPort must be a port number, got ${resolved.listenPort}`)
  }
  for (const name of ['helloTimeoutMs', 'pingIntervalMs', 'pongTimeoutMs', 'pingWindowMs', 'disconnectTimeoutMs'] as const) {
    try {
      assertTimeout(resolved[name], name)
    } catch (err) {
      throw new RlpxInvalidOptionError((err as Error).message)
    }
    // Timers are set with these as they are: setTimeout fires at once past its largest delay.
    if (resolved[name] !== Infinity && resolved[name] > MAX_TIMER_MS) throw new RlpxInvalidOptionError(`${name} must be at most ${MAX_TIMER_MS} ms or Infinity`)
  }
  count('maxPingsPerWindow', resolved.maxPingsPerWindow, 1, Number.MAX_SAFE_INTEGER)
  count('maxMessageSize', resolved.maxMessageSize, 1, MAX_RLPX_FRAME_SIZE)
  count('maxFrameSize', resolved.maxFrameSize, 1, MAX_RLPX_FRAME_SIZE)
  count('streamHighWaterMark', resolved.streamHighWaterMark, 1, Number.MAX_SAFE_INTEGER)
  return resolved
}

function count(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RlpxInvalidOptionError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
}
