import type { Duplex } from 'node:stream'
import { destroyWith } from '../codec/stream-read'
import { equalBytes } from '../util/bytes'
import { DEFAULT_MAX_LS_COUNT, DEFAULT_MAX_NA_COUNT, MAX_PROTOCOL_ID_LENGTH } from './constants'
import { MssInvalidHeaderError, MssMissingNewlineError, MssTooManyAttemptsError, MssTooManyLsError } from './errors'
import {
  encodeLsResponse,
  HEADER_MESSAGE,
  HEADER_PAYLOAD,
  line,
  LS_PAYLOAD,
  messageText,
  NA_MESSAGE,
  NEWLINE,
} from './messages'
import { log, Negotiation, type NegotiationOptions, type NegotiationResult, underDeadline } from './negotiation'

/** How much a dialer may ask of a listener before it gives up. */
export interface ListenerLimits {
  /** Proposals answered with `na` before giving up. Default DEFAULT_MAX_NA_COUNT (32). */
  maxNaCount?: number
  /** `ls` requests answered before giving up. Default DEFAULT_MAX_LS_COUNT (4). */
  maxLsCount?: number
}

export interface MssHandleOptions extends NegotiationOptions, ListenerLimits {}

function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid ${name} ${String(value)}`)
  return value
}

/** Listener: echoes the header, answers `ls`, `na` for unknown ids, and echoes the chosen id. */
class Listener extends Negotiation<string> {
  private readonly protocols: readonly string[]
  private readonly maxNaCount: number
  private readonly maxLsCount: number
  private headerSeen = false
  private naCount = 0
  private lsCount = 0

  constructor(stream: Duplex, protocols: readonly string[], signal: AbortSignal | undefined, opts: ListenerLimits) {
    super(stream, signal, MAX_PROTOCOL_ID_LENGTH + 1)
    this.protocols = protocols
    this.maxNaCount = checkCount('maxNaCount', opts.maxNaCount ?? DEFAULT_MAX_NA_COUNT)
    this.maxLsCount = checkCount('maxLsCount', opts.maxLsCount ?? DEFAULT_MAX_LS_COUNT)
  }

  protected onMessage(msg: Buffer): string | undefined {
    if (msg.length === 0 || msg[msg.length - 1] !== NEWLINE) throw new MssMissingNewlineError()
    if (!this.headerSeen) {
      if (!equalBytes(msg, HEADER_PAYLOAD)) throw new MssInvalidHeaderError(messageText(msg))
      this.headerSeen = true
      this.outbox.push(HEADER_MESSAGE)
      return undefined
    }
    if (equalBytes(msg, LS_PAYLOAD)) {
      if (++this.lsCount > this.maxLsCount) throw new MssTooManyLsError(this.maxLsCount)
      this.outbox.push(encodeLsResponse(this.protocols))
      return undefined
    }
    const id = msg.toString('utf8', 0, msg.length - 1)
    if (this.protocols.includes(id)) {
      const answer = line(id)
      // The usual case (header and proposal in one chunk) answers with one cached buffer.
      if (this.outboxIsHeaderOnly()) this.outbox[0] = answer.withHeader
      else this.outbox.push(answer.message)
      if (log.enabled) log('handling %s', id)
      return id
    }
    if (++this.naCount > this.maxNaCount) throw new MssTooManyAttemptsError(this.maxNaCount)
    // A repeated header (a dialer re-selecting after `ls`) is answered in kind, and counted like a refusal.
    if (equalBytes(msg, HEADER_PAYLOAD)) {
      this.outbox.push(HEADER_MESSAGE)
      return undefined
    }
    if (log.enabled) log('na for %s', id)
    this.outbox.push(NA_MESSAGE)
    return undefined
  }
}

/**
 * Listener side of multistream-select 1.0: waits for the dialer's header and
 * proposals and resolves with the first proposal found in `protocols`.
 * Answers `ls` with the protocol list and `na` for anything unknown; all the
 * answers to one incoming chunk go out in one write (header + choice for a
 * pipelining dialer). Resolves with the same stream, with any bytes the dialer
 * sent after its accepted proposal still unread. Rejects (and destroys the
 * stream with the error) on a bad header, an over-long id, a missing newline,
 * more than `maxNaCount` refusals or `maxLsCount` ls requests, timeout
 * (MssTimeoutError after `timeoutMs`) or abort.
 */
export function mssHandle<S extends Duplex>(
  stream: S,
  protocols: string | readonly string[],
  opts: MssHandleOptions = {},
): Promise<NegotiationResult<S>> {
  return underDeadline(stream, opts, (signal) => handleProtocol(stream, protocols, signal, opts))
}

/** mssHandle bounded by `signal` alone, for callers whose signal carries their deadline (Upgrader, Connection). */
export function handleProtocol<S extends Duplex>(
  stream: S,
  protocols: string | readonly string[],
  signal: AbortSignal | undefined,
  limits: ListenerLimits = {},
): Promise<NegotiationResult<S>> {
  let listener: Listener
  try {
    const list = typeof protocols === 'string' ? [protocols] : protocols
    for (const p of list) line(p) // validates (once per id, thanks to the cache)
    listener = new Listener(stream, list, signal, limits)
  } catch (err) {
    destroyWith(stream, err as Error)
    return Promise.reject(err as Error)
  }
  return listener.run().then((protocol) => ({ stream, protocol }))
}
