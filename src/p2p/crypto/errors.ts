import { P2PError, markTimeout } from '../errors'

/**
 * Base class of every failure of the ECIES secure channel (RLPx handshake and
 * framing). Subclasses fix the `code`; the message carries the reason. Whenever
 * one of these ends a handshake or a stream, the underlying socket is destroyed.
 */
export class EciesError extends P2PError {}

/** The handshake did not complete within its deadline. */
export class HandshakeTimeoutError extends EciesError {
  static {
    markTimeout(this)
  }

  constructor(timeoutMs: number) {
    super('ERR_ECIES_HANDSHAKE_TIMEOUT', `ECIES handshake did not complete within ${timeoutMs} ms`)
  }
}

/** The caller's AbortSignal fired during the handshake. */
export class HandshakeAbortedError extends EciesError {
  constructor(reason?: unknown) {
    super('ERR_ECIES_HANDSHAKE_ABORTED', 'ECIES handshake aborted', { cause: reason })
  }
}

/** The socket ended, failed or closed before the handshake completed. */
export class HandshakeClosedError extends EciesError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ECIES_HANDSHAKE_CLOSED', message, { cause })
  }
}

/**
 * An ECIES-encrypted handshake packet could not be opened: its tag did not
 * verify. Random bytes and an auth sealed to another node's key end here.
 */
export class DecryptError extends EciesError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ECIES_DECRYPT', message, { cause })
  }
}

/** A handshake packet decrypted but its content is malformed (bad RLP, lengths, signature, key). */
export class InvalidHandshakeError extends EciesError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ECIES_INVALID_HANDSHAKE', message, { cause })
  }
}

/** A handshake packet announced a size over the accepted maximum. */
export class HandshakeTooLargeError extends EciesError {
  constructor(size: number, max: number) {
    super('ERR_ECIES_HANDSHAKE_TOO_LARGE', `handshake packet of ${size} bytes exceeds the ${max}-byte limit`)
  }
}

/** The caller passed a private key or remote id that is not a valid secp256k1 key. */
export class InvalidKeyError extends EciesError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ECIES_INVALID_KEY', message, { cause })
  }
}

/** A frame header or body MAC did not verify: corruption, tampering, or the wrong session. */
export class FrameMacError extends EciesError {
  constructor(part: 'header' | 'body') {
    super('ERR_ECIES_BAD_MAC', `RLPx frame ${part} MAC mismatch`)
  }
}

/** A frame header announced a body larger than the inbound limit. */
export class FrameTooLargeError extends EciesError {
  constructor(size: number, max: number) {
    super('ERR_ECIES_FRAME_TOO_LARGE', `RLPx frame of ${size} bytes exceeds the ${max}-byte inbound limit`)
  }
}

/** The remote closed its side in the middle of a frame. */
export class TruncatedFrameError extends EciesError {
  constructor() {
    super('ERR_ECIES_TRUNCATED_FRAME', 'connection ended in the middle of an RLPx frame')
  }
}

/**
 * The socket under the secure stream closed without a clean end of stream
 * (no FIN seen) after the handshake, or failed (ECONNRESET, EPIPE, ...). A
 * socket error is carried as `cause` so readers above always get a typed
 * error, never a raw Node one.
 */
export class SocketClosedError extends EciesError {
  constructor(message = 'socket closed before the end of the secure stream', cause?: unknown) {
    super('ERR_ECIES_CONNECTION_CLOSED', message, { cause })
  }
}

/** Anything unexpected raised during the handshake, wrapped so callers always get an EciesError. */
export class HandshakeFailedError extends EciesError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super('ERR_ECIES_HANDSHAKE_FAILED', `ECIES handshake failed: ${reason}`, { cause })
  }
}

/** An option passed to secureOutbound / secureInbound is out of range. */
export class InvalidOptionError extends EciesError {
  constructor(message: string) {
    super('ERR_ECIES_INVALID_OPTION', message)
  }
}

/**
 * The secure stream was used against its mode: frame-mode calls (RLPx
 * sessions, one message per frame) on a stream already read as bytes, a byte
 * write while in frame mode, or a frame over the 24-bit size field.
 */
export class FrameModeError extends EciesError {
  constructor(message: string) {
    super('ERR_ECIES_FRAME_MODE', message)
  }
}
