import type { SecureStream } from '../crypto'
import { abortReason } from '../util/abort'
import { RlpxConnectionLostError } from './errors'
import { HELLO_MSG } from './limits'
import { splitMessageId } from './message'

/**
 * Telling an RLPx peer from a modular-stack peer by the first frame after
 * the ECIES handshake. The two protocols start differently, byte for byte:
 *
 * - RLPx: `msg-id || msg-data`, msg-id RLP-encoded, msg-data an RLP list,
 *   uncompressed since no Hello was exchanged yet: a Hello starts 0x80 0xc?..,
 *   a Disconnect (allowed instead of Hello) 0x01 0xc?.. Any other message id
 *   below 0x80 followed by a list is RLPx too: a peer breaking the rule that
 *   Hello comes first, which the session refuses (PROTOCOL_ERROR);
 * - multistream-select: `uvarint(19) "/multistream/1.0.0\n"`, so 0x13 '/'.
 *
 * No multistream message has a list byte (0xc0..0xff) second: its length
 * prefix is followed by ASCII text, and a two-byte prefix starting 0x80 would
 * need a second byte of 0xc0 or more, a length far above the 1024-byte limit.
 * So the test is exact.
 */
export type FirstFrameKind = 'rlpx' | 'multistream'

export function classifyFirstFrame(body: Uint8Array): FirstFrameKind {
  return isRlpxFirstFrame(body) ? 'rlpx' : 'multistream'
}

/** True for a frame body shaped as an uncompressed RLPx message: a one-byte message id (0x80 for 0, or 0x01–0x7f), then an RLP list. */
export function isRlpxFirstFrame(body: Uint8Array): boolean {
  if (body.length < 2 || body[1]! < 0xc0) return false
  return body[0]! >= 0x01 && body[0]! <= 0x80
}

/** True for a frame body carrying an RLPx Hello (what an RLPx node answers a dial with). */
export function isRlpxHello(body: Uint8Array): boolean {
  if (body.length < 2 || body[1]! < 0xc0) return false
  try {
    return splitMessageId(body).id === HELLO_MSG
  } catch {
    return false
  }
}

/**
 * Takes the first frame off a fresh secure channel, whole, and leaves the
 * channel holding what follows. Then either hand the channel to an RLPx
 * session with the frame as `firstFrame` (RlpxMuxer.handshake), or go on in
 * byte mode with `channel.readBytes([frame])` (multistream-select then reads
 * the frame as its first bytes). Rejects with the signal's reason, or
 * RlpxConnectionLostError when the channel ends first; the channel is left
 * as it is (the caller destroys it).
 */
export function readFirstFrame(channel: SecureStream, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
  const { signal } = opts
  if (signal?.aborted === true) return Promise.reject(abortReason(signal, 'first frame'))
  return new Promise<Buffer>((resolve, reject) => {
    let done = false
    const finish = (): void => {
      done = true
      channel.off('close', onClose)
      channel.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error): void => {
      if (done) return
      finish()
      reject(err)
    }
    const onClose = (): void => fail(new RlpxConnectionLostError('secure channel closed before its first frame'))
    const onError = (err: Error): void => fail(new RlpxConnectionLostError(`secure channel failed before its first frame: ${err.message}`, { cause: err }))
    const onAbort = (): void => fail(abortReason(signal!, 'first frame'))
    channel.on('close', onClose)
    channel.on('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
    channel.readFrames({
      frame: (body) => {
        if (done) return false
        finish()
        resolve(body)
        return false
      },
      drain: () => {},
      end: () => fail(new RlpxConnectionLostError('remote ended the secure channel before its first frame')),
    })
  })
}
