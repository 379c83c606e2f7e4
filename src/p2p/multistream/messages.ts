import { decodeUvarint, uvarintLength, writeUvarint } from '../codec/uvarint'
import { MAX_PROTOCOL_ID_LENGTH, MULTISTREAM_PROTOCOL_ID, RESERVED_PROTOCOL_IDS } from './constants'
import { MssInvalidProtocolIdError, MssInvalidResponseError, MssMissingNewlineError, MssProtocolIdTooLongError } from './errors'

/**
 * Wire encoding of multistream-select messages: `uvarint(len) || text || '\n'`
 * where len counts the newline.
 *
 * Encoded lines are cached per protocol id, because the same few ids (the
 * muxer, the eth versions) are negotiated on every stream; a negotiation then
 * allocates no message buffers at all. Cached buffers are shared and must never
 * be modified — stream writes do not modify what they are given.
 */

export const NEWLINE = 0x0a

/** An encoded line: `payload` is `text\n`, `message` adds the prefix, `withHeader` is header + message. */
export interface EncodedLine {
  readonly id: string
  readonly payload: Buffer
  readonly message: Buffer
  /** Header message followed by this message: the dialer's first write and the listener's usual answer. */
  readonly withHeader: Buffer
}

/** Entries kept at most; a full cache is simply dropped (ids are few in practice). */
const MAX_CACHED_LINES = 1024
const cache = new Map<string, EncodedLine>()

function encode(text: string): Buffer {
  const bytes = Buffer.byteLength(text, 'utf8') + 1
  const prefix = uvarintLength(bytes)
  const out = Buffer.allocUnsafeSlow(prefix + bytes)
  writeUvarint(bytes, out, 0)
  out.write(text, prefix, 'utf8')
  out[out.length - 1] = NEWLINE
  return out
}

export const HEADER_MESSAGE: Buffer = encode(MULTISTREAM_PROTOCOL_ID)
export const HEADER_PAYLOAD: Buffer = HEADER_MESSAGE.subarray(1)
export const NA_MESSAGE: Buffer = encode('na')
export const NA_PAYLOAD: Buffer = NA_MESSAGE.subarray(1)
export const LS_MESSAGE: Buffer = encode('ls')
export const LS_PAYLOAD: Buffer = LS_MESSAGE.subarray(1)

/**
 * What makes `id` unusable as a protocol id (empty, a newline, a reserved
 * multistream message, more than `maxBytes` UTF-8 bytes), or undefined when
 * it is fine. The one rule for ids; the multistream layer and the Registrar
 * each throw their own error with it.
 */
export function protocolIdProblem(id: string, maxBytes: number = MAX_PROTOCOL_ID_LENGTH): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'empty'
  if (id.includes('\n')) return 'contains a newline'
  if (RESERVED_PROTOCOL_IDS.has(id)) return 'reserved: a multistream-select message, not a protocol id'
  const bytes = Buffer.byteLength(id, 'utf8')
  if (bytes > maxBytes) return `${bytes} bytes, more than ${maxBytes}`
  return undefined
}

/** Validates a protocol id we are about to send or offer. */
export function checkProtocolId(id: string): void {
  const problem = protocolIdProblem(id)
  if (problem === undefined) return
  const bytes = Buffer.byteLength(String(id), 'utf8')
  if (bytes > MAX_PROTOCOL_ID_LENGTH) throw new MssProtocolIdTooLongError(bytes, MAX_PROTOCOL_ID_LENGTH)
  throw new MssInvalidProtocolIdError(`protocol id ${JSON.stringify(id)}: ${problem}`)
}

/** The cached encoding of `id` (validated on first use). */
export function line(id: string): EncodedLine {
  let entry = cache.get(id)
  if (entry !== undefined) return entry
  checkProtocolId(id)
  const message = encode(id)
  const withHeader = Buffer.allocUnsafeSlow(HEADER_MESSAGE.length + message.length)
  HEADER_MESSAGE.copy(withHeader, 0)
  message.copy(withHeader, HEADER_MESSAGE.length)
  const prefixLength = uvarintLength(Buffer.byteLength(id, 'utf8') + 1)
  entry = {
    id,
    message: withHeader.subarray(HEADER_MESSAGE.length),
    payload: withHeader.subarray(HEADER_MESSAGE.length + prefixLength),
    withHeader,
  }
  if (cache.size >= MAX_CACHED_LINES) cache.clear()
  cache.set(id, entry)
  return entry
}

/** Message text without its newline; throws MssMissingNewlineError if there is none. */
export function messageText(msg: Buffer): string {
  if (msg.length === 0 || msg[msg.length - 1] !== NEWLINE) throw new MssMissingNewlineError()
  return msg.toString('utf8', 0, msg.length - 1)
}

/**
 * The `ls` answer, as go-multistream and @libp2p/multistream-select send it:
 * one length-prefixed message whose body is every protocol as its own
 * length-prefixed, newline-terminated line, followed (as libp2p does) by a
 * final newline so the outer message is newline-terminated too.
 */
export function encodeLsResponse(protocols: readonly string[]): Buffer {
  const lines = protocols.map((p) => line(p).message)
  let body = 1
  for (const l of lines) body += l.length
  const out = Buffer.allocUnsafe(uvarintLength(body) + body)
  let offset = writeUvarint(body, out, 0)
  for (const l of lines) offset += l.copy(out, offset)
  out[offset] = NEWLINE
  return out
}

/** Parses the body of an `ls` answer; accepts it with or without the final newline. */
export function decodeLsResponse(body: Buffer): string[] {
  const protocols: string[] = []
  let offset = 0
  while (offset < body.length) {
    if (offset === body.length - 1 && body[offset] === NEWLINE) break
    let read
    try {
      read = decodeUvarint(body, offset)
    } catch (err) {
      throw new MssInvalidResponseError(`malformed ls response: ${(err as Error).message}`)
    }
    if (read.bytes === 0 || offset + read.bytes + read.value > body.length) {
      throw new MssInvalidResponseError('malformed ls response: truncated entry')
    }
    const start = offset + read.bytes
    offset = start + read.value
    protocols.push(messageText(body.subarray(start, offset)))
  }
  return protocols
}
