import type { EthRequestName } from './ethmessages'

/** Which way a message travelled, seen from this node. */
export type MessageDirection = 'inbound' | 'outbound'

/**
 * How a request this node sent ended: 'answered' (a matching response in time),
 * 'timeout' (none within requestTimeoutMs), 'invalid' (a response of the wrong
 * kind or with more items than asked), 'cancelled' (it could not be sent, or the
 * session ended before the answer).
 */
export type RequestOutcome = 'answered' | 'timeout' | 'invalid' | 'cancelled'

/**
 * The counting seam of the eth protocol layer. Senders report every message
 * they move (where the transport knows it, with its size on the wire: code
 * byte plus RLP payload, 0 when the transport does not expose it, as
 * @ethereumjs/devp2p does not); bound protocols report how each request of
 * ours ended. Implementations are called on the hot path: they add to
 * preallocated tallies and leave formatting to scrape time (see
 * src/client/metrics/).
 */
export interface MessageMeter {
  message(direction: MessageDirection, version: number, code: number, bytes: number): void
  request(name: EthRequestName, outcome: RequestOutcome, seconds: number): void
}

/** The meter of a node without metrics: counts nothing. */
export const NO_METER: MessageMeter = Object.freeze({
  message(): void {},
  request(): void {},
})
