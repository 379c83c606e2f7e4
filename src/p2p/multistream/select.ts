import type { Duplex } from 'node:stream'
import { destroyWith } from '../codec/stream-read'
import { equalBytes } from '../util/bytes'
import { DEFAULT_MAX_LS_RESPONSE_LENGTH, MAX_PROTOCOL_ID_LENGTH } from './constants'
import {
  MssInvalidHeaderError,
  MssInvalidProtocolIdError,
  MssInvalidResponseError,
  MssMissingNewlineError,
  MssProtocolIdTooLongError,
  MssUnsupportedProtocolError,
} from './errors'
import {
  decodeLsResponse,
  type EncodedLine,
  HEADER_MESSAGE,
  HEADER_PAYLOAD,
  line,
  LS_MESSAGE,
  messageText,
  NA_PAYLOAD,
  NEWLINE,
} from './messages'
import { log, Negotiation, type NegotiationOptions, type NegotiationResult, underDeadline } from './negotiation'

export type MssSelectOptions = NegotiationOptions

/** Checks that the first message is the newline-terminated multistream header. */
function expectHeader(msg: Buffer): void {
  if (msg.length === 0 || msg[msg.length - 1] !== NEWLINE) throw new MssMissingNewlineError()
  if (!equalBytes(msg, HEADER_PAYLOAD)) throw new MssInvalidHeaderError(messageText(msg))
}

/** Dialer: header + first proposal in one write, then one proposal per `na`. */
class Selector extends Negotiation<string> {
  private readonly lines: readonly EncodedLine[]
  private index = 0
  private headerSeen = false

  constructor(stream: Duplex, lines: readonly EncodedLine[], signal: AbortSignal | undefined) {
    super(stream, signal, MAX_PROTOCOL_ID_LENGTH + 1)
    this.lines = lines
  }

  protected onMessage(msg: Buffer): string | undefined {
    if (!this.headerSeen) {
      expectHeader(msg)
      this.headerSeen = true
      return undefined
    }
    if (msg.length === 0 || msg[msg.length - 1] !== NEWLINE) throw new MssMissingNewlineError()
    const current = this.lines[this.index]!
    // `na` first: a refusal must never be mistaken for the echo of a proposal
    // (checkProtocolId already refuses to propose "na"; this keeps the order safe on its own).
    if (!equalBytes(msg, NA_PAYLOAD)) {
      if (equalBytes(msg, current.payload)) {
        if (log.enabled) log('selected %s', current.id)
        return current.id
      }
      throw new MssInvalidResponseError(`expected ${current.id} or na, received ${JSON.stringify(messageText(msg))}`)
    }
    if (log.enabled) log('%s refused', current.id)
    if (++this.index >= this.lines.length) throw new MssUnsupportedProtocolError(this.lines.map((l) => l.id))
    this.outbox.push(this.lines[this.index]!.message)
    return undefined
  }
}

/**
 * Dialer side of multistream-select 1.0: proposes `protocols` in order and
 * resolves with the first one the listener accepts. The header and the first
 * proposal go out in one write; each `na` moves to the next proposal. Resolves
 * with the same stream, with any bytes the listener sent after its answer
 * still unread. Rejects (and destroys the stream with the error) with
 * MssUnsupportedProtocolError when all are refused, MssTimeoutError after
 * `timeoutMs`, the abort reason, or another MultistreamError for a
 * misbehaving listener.
 */
export function mssSelect<S extends Duplex>(
  stream: S,
  protocols: string | readonly string[],
  opts: MssSelectOptions = {},
): Promise<NegotiationResult<S>> {
  return underDeadline(stream, opts, (signal) => selectProtocol(stream, protocols, signal))
}

/** mssSelect bounded by `signal` alone, for callers whose signal carries their deadline (Upgrader, Connection). */
export function selectProtocol<S extends Duplex>(
  stream: S,
  protocols: string | readonly string[],
  signal: AbortSignal | undefined,
): Promise<NegotiationResult<S>> {
  let selector: Selector
  let first: Buffer
  try {
    const list = typeof protocols === 'string' ? [protocols] : protocols
    if (list.length === 0) throw new MssInvalidProtocolIdError('no protocols to propose')
    const lines = list.map(line)
    first = lines[0]!.withHeader
    selector = new Selector(stream, lines, signal)
  } catch (err) {
    destroyWith(stream, err as Error)
    return Promise.reject(err as Error)
  }
  return selector.run(first).then((protocol) => ({ stream, protocol }))
}

export interface MssLsOptions extends NegotiationOptions {
  /** Largest `ls` answer accepted, in bytes. Default DEFAULT_MAX_LS_RESPONSE_LENGTH (64 KiB). */
  maxLsResponseLength?: number
}

/** Dialer-side `ls`: header + `ls` in one write, then the header and the list. */
class Lister extends Negotiation<string[]> {
  private readonly maxLsResponseLength: number
  private headerSeen = false

  constructor(stream: Duplex, opts: MssLsOptions, signal: AbortSignal) {
    super(stream, signal, MAX_PROTOCOL_ID_LENGTH + 1)
    const max = opts.maxLsResponseLength ?? DEFAULT_MAX_LS_RESPONSE_LENGTH
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`invalid maxLsResponseLength ${String(max)}`)
    this.maxLsResponseLength = max
  }

  protected override tooLong(length: number | undefined): Error {
    if (!this.headerSeen) return super.tooLong(length)
    return new MssProtocolIdTooLongError(length, this.maxLsResponseLength, 'ls response')
  }

  protected onMessage(msg: Buffer): string[] | undefined {
    if (!this.headerSeen) {
      expectHeader(msg)
      this.headerSeen = true
      this.maxMessageLength = this.maxLsResponseLength
      return undefined
    }
    if (equalBytes(msg, NA_PAYLOAD)) throw new MssInvalidResponseError('remote answered ls with na')
    const protocols = decodeLsResponse(msg)
    if (log.enabled) log('ls: %o', protocols)
    return protocols
  }
}

const HEADER_AND_LS = Buffer.concat([HEADER_MESSAGE, LS_MESSAGE])

/**
 * Asks the listener for its protocols (`ls`). Resolves with the list and the
 * same stream, still in the negotiation phase: end it, or call `mssSelect` on
 * it (which sends the header again; listeners answer it again).
 */
export function mssLs<S extends Duplex>(
  stream: S,
  opts: MssLsOptions = {},
): Promise<{ stream: S; protocols: string[] }> {
  return underDeadline(stream, opts, (signal) => {
    let lister: Lister
    try {
      lister = new Lister(stream, opts, signal)
    } catch (err) {
      destroyWith(stream, err as Error)
      return Promise.reject(err as Error)
    }
    return lister.run(HEADER_AND_LS).then((protocols) => ({ stream, protocols }))
  })
}
