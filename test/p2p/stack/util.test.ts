import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { AbortError, TimeoutError } from '../../../src/p2p/errors'
import { anySignal, raceSignal, throwIfAborted } from '../../../src/p2p/util/abort'
import { equalBytes, shortId, toHex } from '../../../src/p2p/util/bytes'
import { waitForEvent } from '../../../src/p2p/util/events'
import { createDeadline, withTimeout } from '../../../src/p2p/util/timeout'

class Boom extends Error {}

describe('anySignal', () => {
  it('aborts with the first source reason and detaches from every source', () => {
    const a = new AbortController()
    const b = new AbortController()
    const linked = anySignal([a.signal, undefined, b.signal])
    const reason = new Boom('first')
    b.abort(reason)
    expect(linked.signal.aborted).toBe(true)
    expect(linked.signal.reason).toBe(reason)
    a.abort(new Boom('second'))
    expect(linked.signal.reason).toBe(reason)
  })

  it('is aborted at once when a source already is', () => {
    const a = new AbortController()
    a.abort('why')
    expect(anySignal([a.signal]).signal.reason).toBe('why')
  })

  it('clear() stops propagation', () => {
    const a = new AbortController()
    const linked = anySignal([a.signal])
    linked.clear()
    a.abort()
    expect(linked.signal.aborted).toBe(false)
  })
})

describe('throwIfAborted / raceSignal', () => {
  it('throws the Error reason itself, or a typed AbortError for other reasons', () => {
    const a = new AbortController()
    expect(() => throwIfAborted(a.signal)).not.toThrow()
    a.abort('plain string')
    expect(() => throwIfAborted(a.signal)).toThrow(AbortError)
    const b = new AbortController()
    b.abort(new Boom('mine'))
    expect(() => throwIfAborted(b.signal)).toThrow(Boom)
  })

  it('rejects on abort, calls onAbort, and leaves the loser observed', async () => {
    const a = new AbortController()
    let cancelled: Error | undefined
    let rejectInner!: (e: Error) => void
    const inner = new Promise<number>((_, reject) => (rejectInner = reject))
    const raced = raceSignal(inner, a.signal, (e) => (cancelled = e))
    a.abort()
    await expect(raced).rejects.toBeInstanceOf(AbortError)
    expect(cancelled).toBeInstanceOf(AbortError)
    rejectInner(new Boom('late')) // must not surface as an unhandled rejection
  })

  it('passes the value through when the signal stays quiet', async () => {
    const a = new AbortController()
    await expect(raceSignal(Promise.resolve(7), a.signal)).resolves.toBe(7)
  })
})

describe('createDeadline / withTimeout', () => {
  it('fires with the made error and reports expiry', async () => {
    const d = createDeadline(1, () => new TimeoutError('late'))
    await new Promise<void>((resolve) => d.signal.addEventListener('abort', () => resolve(), { once: true }))
    expect(d.expired).toBe(true)
    expect(d.signal.reason).toBeInstanceOf(TimeoutError)
  })

  it('Infinity never fires and rejects bad values', () => {
    const d = createDeadline(Infinity, () => new TimeoutError('never'))
    expect(d.signal.aborted).toBe(false)
    d.clear()
    expect(() => createDeadline(-1, () => new TimeoutError('x'))).toThrow(RangeError)
    expect(() => createDeadline(Number.NaN, () => new TimeoutError('x'))).toThrow(RangeError)
  })

  it('withTimeout rejects with the typed timeout and runs onCancel', async () => {
    let cancelled = false
    const never = new Promise<void>(() => {})
    await expect(withTimeout(never, 5, undefined, () => new TimeoutError('slow'), () => (cancelled = true))).rejects.toBeInstanceOf(
      TimeoutError,
    )
    expect(cancelled).toBe(true)
  })

  it('withTimeout resolves and releases its timer', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    await expect(withTimeout(Promise.resolve('ok'), 60_000, undefined, () => new TimeoutError('x'))).resolves.toBe('ok')
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before)
  })
})

describe('waitForEvent', () => {
  it('resolves with the event arguments and removes its listeners', async () => {
    const e = new EventEmitter()
    const p = waitForEvent<[number, string]>(e, 'x', { rejectOn: 'error', timeoutMs: 60_000 })
    e.emit('x', 1, 'a')
    await expect(p).resolves.toEqual([1, 'a'])
    expect(e.listenerCount('x')).toBe(0)
    expect(e.listenerCount('error')).toBe(0)
  })

  it('rejects on the reject event and on timeout', async () => {
    const e = new EventEmitter()
    const p = waitForEvent(e, 'x', { rejectOn: 'error' })
    e.emit('error', new Boom('bad'))
    await expect(p).rejects.toBeInstanceOf(Boom)
    await expect(waitForEvent(e, 'x', { timeoutMs: 1 })).rejects.toBeInstanceOf(TimeoutError)
    expect(e.listenerCount('x')).toBe(0)
  })
})

describe('bytes', () => {
  it('compares and formats ids', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(equalBytes(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false)
    expect(toHex(Uint8Array.of(0, 255))).toBe('00ff')
    expect(shortId(new Uint8Array(64).fill(0xab))).toBe('abababab…abababab')
  })
})

describe('abortReason', () => {
  it('turns the DOMException of a bare abort() into a typed AbortError', () => {
    const a = new AbortController()
    a.abort()
    let caught: unknown
    try {
      throwIfAborted(a.signal, 'dial')
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(AbortError)
    expect((caught as AbortError).code).toBe('ERR_ABORTED')
  })
})
