import debug from 'debug'

import type { SecureStream } from '../crypto'
import type { DisconnectReason } from './disconnect-reason'
import { DEFAULT_DISCONNECT_TIMEOUT_MS, DEFAULT_RLPX_MAX_FRAME_SIZE } from './limits'
import { RlpxWire } from './wire'

const log = debug('p2p:rlpx')

export interface RefusalOptions {
  /** How long the remote gets to close after our Disconnect; default DEFAULT_DISCONNECT_TIMEOUT_MS. */
  disconnectTimeoutMs?: number
  /** Largest frame read while waiting for the close; default DEFAULT_RLPX_MAX_FRAME_SIZE. */
  maxFrameSize?: number
}

/**
 * Ends an RLPx connection before any Hello, with a reason: what geth does to
 * a peer it will not take once the ECIES handshake told it who the peer is
 * (banned, already connected). The Disconnect goes out uncompressed (no
 * Hello, so no snappy), then our FIN; whatever the remote still sends is
 * dropped, and the channel is destroyed once the remote closes or after
 * `disconnectTimeoutMs`. Reading the remote's frames until then lets its FIN
 * be seen. The caller has already taken the remote's first frame off the
 * channel and does not pass it on.
 */
export function refuseBeforeHello(channel: SecureStream, reason: DisconnectReason, opts: RefusalOptions = {}): void {
  const wire: RlpxWire = new RlpxWire(
    channel,
    { maxFrameSize: opts.maxFrameSize ?? DEFAULT_RLPX_MAX_FRAME_SIZE, disconnectTimeoutMs: opts.disconnectTimeoutMs ?? DEFAULT_DISCONNECT_TIMEOUT_MS },
    {
      message: () => {},
      violation: () => wire.destroy(),
      end: () => wire.destroy(),
      error: (err) => {
        log('refused peer: channel error after Disconnect: %s', err.message)
        wire.destroy()
      },
      close: () => {},
    },
  )
  try {
    wire.open()
    wire.disconnect(reason)
    wire.start()
  } catch (err) {
    log('refused peer: could not send Disconnect: %s', (err as Error).message)
    wire.destroy()
  }
}
