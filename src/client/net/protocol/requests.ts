import { InvalidResponseError, RequestTimeoutError, UnexpectedResponseError } from './errors'
import { type EthMessages, type EthRequestName, type EthResponseName, type ResponseOf, responseOf } from './ethmessages'

import type { RequestOutcome } from './meter'

/**
 * Requests in flight on one session, matched to responses by reqId. Any
 * number may be outstanding; each has its own deadline.
 */

/**
 * How many timed-out reqIds we remember. A response that arrives after its
 * request timed out comes from a slow peer, not a lying one: it is dropped
 * quietly instead of being reported as unsolicited. Older ids are forgotten.
 */
export const MAX_REMEMBERED_TIMEOUTS = 256

export type RequestData<R extends EthRequestName> = Omit<EthMessages[R], 'reqId'>
export type ResponseData<R extends EthRequestName> = EthMessages[ResponseOf<R>]

interface Pending {
  name: EthRequestName
  response: EthResponseName
  /** How many items the request allows in its answer. */
  maxItems: number
  resolve: (data: unknown) => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
  /** performance.now() when the request was registered. */
  startedAt: number
}

/** Told how each request ended and how long it took (metrics, reputation). */
export type RequestSettledListener = (name: EthRequestName, outcome: RequestOutcome, ms: number) => void

/** What became of a response. 'late' = its request already timed out. */
export type SettleResult = 'matched' | 'late'

export class RequestTracker {
  private readonly pending = new Map<bigint, Pending>()
  private readonly timedOut = new Set<bigint>()
  private nextId: bigint
  private readonly timeoutMs: number
  private readonly onSettled?: RequestSettledListener

  constructor(opts: { timeoutMs: number; onSettled?: RequestSettledListener }) {
    this.timeoutMs = opts.timeoutMs
    this.onSettled = opts.onSettled
    // A random start keeps reqIds of successive sessions apart (aids debugging, not security).
    this.nextId = BigInt(crypto.getRandomValues(new Uint32Array(1))[0])
  }

  get size(): number {
    return this.pending.size
  }

  /** Registers a request; the returned promise settles with the matching response data. */
  add<R extends EthRequestName>(name: R, data: RequestData<R>): { reqId: bigint; promise: Promise<ResponseData<R>> } {
    const reqId = this.nextId++
    const promise = new Promise<ResponseData<R>>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(reqId), this.timeoutMs)
      this.pending.set(reqId, {
        name,
        response: responseOf(name),
        maxItems: maxItems(name, data),
        resolve: resolve as (data: unknown) => void,
        reject,
        timer,
        startedAt: performance.now(),
      })
    })
    return { reqId, promise }
  }

  /** Fails one request (e.g. it could not be sent). */
  cancel(reqId: bigint, err: Error): void {
    const p = this.take(reqId)
    if (p === undefined) return
    this.report(p, 'cancelled')
    p.reject(err)
  }

  /**
   * Resolves the request `reqId` with a response. Throws UnexpectedResponseError
   * for an unknown reqId or a response of the wrong kind, InvalidResponseError
   * for more items than asked; in both latter cases the request is failed too.
   */
  settle(reqId: bigint, name: EthResponseName, data: unknown, items: number): SettleResult {
    const p = this.take(reqId)
    if (p === undefined) {
      if (this.timedOut.delete(reqId)) return 'late'
      throw new UnexpectedResponseError(`${name} with reqId ${reqId} answers no request in flight`)
    }
    if (p.response !== name) {
      const err = new UnexpectedResponseError(`${name} received for ${p.name} (reqId ${reqId}), expected ${p.response}`)
      this.report(p, 'invalid')
      p.reject(err)
      throw err
    }
    if (items > p.maxItems) {
      const err = new InvalidResponseError(`${name} (reqId ${reqId}) has ${items} items, ${p.name} asked for at most ${p.maxItems}`)
      this.report(p, 'invalid')
      p.reject(err)
      throw err
    }
    this.report(p, 'answered')
    p.resolve(data)
    return 'matched'
  }

  /** Fails every request at once (session ended). */
  rejectAll(err: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    this.timedOut.clear()
    for (const p of all) {
      clearTimeout(p.timer)
      this.report(p, 'cancelled')
      p.reject(err)
    }
  }

  private take(reqId: bigint): Pending | undefined {
    const p = this.pending.get(reqId)
    if (p === undefined) return undefined
    this.pending.delete(reqId)
    clearTimeout(p.timer)
    return p
  }

  private expire(reqId: bigint): void {
    const p = this.pending.get(reqId)
    if (p === undefined) return
    this.pending.delete(reqId)
    this.timedOut.add(reqId)
    if (this.timedOut.size > MAX_REMEMBERED_TIMEOUTS) {
      const oldest = this.timedOut.values().next().value as bigint
      this.timedOut.delete(oldest)
    }
    this.report(p, 'timeout')
    p.reject(new RequestTimeoutError(p.name, reqId, this.timeoutMs))
  }

  private report(p: Pending, outcome: RequestOutcome): void {
    this.onSettled?.(p.name, outcome, performance.now() - p.startedAt)
  }
}

function maxItems(name: EthRequestName, data: RequestData<EthRequestName>): number {
  if (name === 'GetBlockHeaders') return (data as RequestData<'GetBlockHeaders'>).max
  return (data as { hashes: Uint8Array[] }).hashes.length
}
