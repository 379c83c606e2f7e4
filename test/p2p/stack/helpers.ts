import type { Duplex } from 'node:stream'
import type { Connection } from '../../../src/p2p/connection'
import { waitForEvent } from '../../../src/p2p/util/events'

/** Upper bound for any single await in these tests: a hang fails instead of blocking the run. */
export const EVENT_TIMEOUT_MS = 20_000

/** Echo handler: everything read is written back; the remote's end ends our side. */
export function echo(stream: Duplex): void {
  stream.pipe(stream)
}

/** Reads a stream to its end. */
export async function readAll(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Writes `data` in `chunkSize` pieces honouring backpressure, then ends the stream. */
export async function writeAll(stream: Duplex, data: Uint8Array, chunkSize = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunkSize) {
    if (!stream.write(data.subarray(off, off + chunkSize))) {
      await waitForEvent(stream, 'drain', { rejectOn: 'error', timeoutMs: EVENT_TIMEOUT_MS })
    }
  }
  stream.end()
}

/** Closes a connection and waits for its 'close' event (not for a timer). */
export async function closeConnection(conn: Connection): Promise<void> {
  if (conn.status === 'closed') return
  const closed = waitForEvent(conn, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
  await conn.close()
  await closed
}

/**
 * Handles and timers that are not ours (vitest's worker channel etc.) are in
 * the baseline; ours must all be gone. A closed libuv handle leaves the list
 * only in the loop's close phase, after the 'close' event already fired, so
 * this yields a bounded number of event-loop turns (not a timed sleep).
 */
export async function expectResourcesBackTo(baseline: string[], turns = 50): Promise<string[]> {
  const counts = (list: string[]): Map<string, number> => {
    const m = new Map<string, number>()
    for (const r of list) m.set(r, (m.get(r) ?? 0) + 1)
    return m
  }
  const base = counts(baseline)
  let extra: string[] = []
  for (let i = 0; i < turns; i++) {
    const now = counts(process.getActiveResourcesInfo())
    extra = []
    for (const [name, n] of now) {
      const over = n - (base.get(name) ?? 0)
      for (let k = 0; k < over; k++) extra.push(name)
    }
    if (extra.length === 0) return extra
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return extra
}
