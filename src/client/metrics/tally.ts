import type { EthRequestName } from '../net/protocol/ethmessages'
import type { MessageDirection, MessageMeter, RequestOutcome } from '../net/protocol/meter'

/** Message codes are one byte on the wire. */
const CODES = 256
/** Latency samples buffered between scrapes before the oldest are folded in anyway (see requestSamples). */
export const MAX_PENDING_LATENCY_SAMPLES = 4096

/** Messages and bytes of one (direction, version), indexed by message code. */
export interface MessageCounts {
  direction: MessageDirection
  version: number
  messages: Float64Array
  bytes: Float64Array
}

/** One answered request waiting to be observed by the latency histogram. */
export interface LatencySample {
  name: EthRequestName
  seconds: number
}

const OUTCOMES: readonly RequestOutcome[] = ['answered', 'timeout', 'invalid', 'cancelled']

/**
 * The hot-path half of the metrics: a MessageMeter that only adds to
 * preallocated typed arrays (one pair per direction and eth version, indexed
 * by code) and appends answered requests' latencies to a short buffer. No
 * strings, label hashing or maps on the message path; src/client/metrics
 * turns the tallies into Prometheus series when scraped.
 */
export class MessageTally implements MessageMeter {
  private readonly counts = new Map<number, MessageCounts>()
  private readonly outcomes = new Map<EthRequestName, Float64Array>()
  private samples: LatencySample[] = []
  /** Set by the metrics when they attach: drains samples past MAX_PENDING_LATENCY_SAMPLES. */
  onSamplesFull?: () => void

  message(direction: MessageDirection, version: number, code: number, bytes: number): void {
    const key = direction === 'inbound' ? version : -version
    let c = this.counts.get(key)
    if (c === undefined) {
      c = { direction, version, messages: new Float64Array(CODES), bytes: new Float64Array(CODES) }
      this.counts.set(key, c)
    }
    const i = code & 0xff
    c.messages[i]! += 1
    c.bytes[i]! += bytes
  }

  request(name: EthRequestName, outcome: RequestOutcome, seconds: number): void {
    let o = this.outcomes.get(name)
    if (o === undefined) this.outcomes.set(name, (o = new Float64Array(OUTCOMES.length)))
    o[OUTCOMES.indexOf(outcome)]! += 1
    if (outcome !== 'answered') return
    this.samples.push({ name, seconds })
    if (this.samples.length >= MAX_PENDING_LATENCY_SAMPLES) this.onSamplesFull?.()
  }

  /** Every (direction, version) seen so far. */
  messageCounts(): IterableIterator<MessageCounts> {
    return this.counts.values()
  }

  /** Requests of ours by message and outcome. */
  *requestOutcomes(): Generator<{ name: EthRequestName; outcome: RequestOutcome; count: number }> {
    for (const [name, o] of this.outcomes) {
      for (let i = 0; i < OUTCOMES.length; i++) if (o[i]! > 0) yield { name, outcome: OUTCOMES[i]!, count: o[i]! }
    }
  }

  /** Latencies of answered requests since the last call. */
  takeSamples(): LatencySample[] {
    const out = this.samples
    this.samples = []
    return out
  }
}
