import type { Readable } from 'node:stream'

/**
 * Takes whatever a paused (non-object-mode) Readable has buffered, or null.
 *
 * Why not plain `read()`: when the stream has already seen EOF, `read()` that
 * returns the last buffered bytes also schedules the 'end' event, and a reader
 * that wants to hand unconsumed bytes back with `unshift()` would then be too
 * late ('unshift after end'). Asking for an explicit size equal to what is
 * buffered does not schedule 'end'. The size is capped at the high-water mark
 * because `read(n)` with n above it permanently raises the mark, which would
 * weaken the stream's backpressure. When nothing is buffered, plain `read()`
 * is what lets Node notice EOF and emit 'end'.
 */
export function readAvailable(stream: Readable): Buffer | null {
  const n = Math.min(stream.readableLength, stream.readableHighWaterMark)
  return (n > 0 ? stream.read(n) : stream.read()) as Buffer | null
}

/**
 * Destroys `stream` with `err` after the caller has already delivered `err`
 * (e.g. by rejecting a promise). The one-shot listener keeps the 'error'
 * event this emits from becoming an uncaught exception when nobody else
 * listens; Node emits at most one 'error' per destroy, so no other error is
 * hidden by it.
 */
export function destroyWith(stream: Readable, err: Error): void {
  if (stream.destroyed) return
  stream.once('error', ignoreError)
  stream.destroy(err)
}

function ignoreError(): void {}
