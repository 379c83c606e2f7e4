import { describe, expect, it } from 'vitest'

import { InterruptedError, WaitTimeoutError } from '../../../src/client/bin/network/errors'
import { busTrigger, pause, waitForCondition, withTimeout } from '../../../src/client/bin/network/waits'
import { Event, EventBus } from '../../../src/client/types'

describe('waits', () => {
  it('resolves once an event makes the condition true, and removes its listeners', async () => {
    const bus = new EventBus()
    let ready = false
    const waiting = waitForCondition({ what: 'ready', timeoutMs: 10_000, condition: () => ready, trigger: busTrigger([bus], [Event.CLIENT_SHUTDOWN]) })
    expect(bus.totalListenerCount()).toBe(1)
    bus.emit(Event.CLIENT_SHUTDOWN) // condition still false: keeps waiting
    ready = true
    bus.emit(Event.CLIENT_SHUTDOWN)
    await waiting
    expect(bus.totalListenerCount()).toBe(0)
  })

  it('resolves at once when the condition already holds', async () => {
    const bus = new EventBus()
    await waitForCondition({ what: 'x', timeoutMs: 10_000, condition: () => true, trigger: busTrigger([bus], [Event.PEER_CONNECTED]) })
    expect(bus.totalListenerCount()).toBe(0)
  })

  it('rejects with a typed timeout naming what it waited for', async () => {
    const bus = new EventBus()
    const err = await waitForCondition({ what: 'node2 to have a peer', timeoutMs: 5, condition: () => false, trigger: busTrigger([bus], [Event.PEER_CONNECTED]) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WaitTimeoutError)
    expect((err as WaitTimeoutError).code).toBe('ERR_NETWORK_TIMEOUT')
    expect((err as Error).message).toContain('node2 to have a peer')
    expect(bus.totalListenerCount()).toBe(0)
  })

  it('rejects with InterruptedError when the signal aborts, before or during the wait', async () => {
    const bus = new EventBus()
    const stop = new AbortController()
    const waiting = waitForCondition({ what: 'mesh', timeoutMs: 10_000, signal: stop.signal, condition: () => false, trigger: busTrigger([bus], [Event.PEER_CONNECTED]) })
    stop.abort()
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError)
    expect(bus.totalListenerCount()).toBe(0)
    await expect(withTimeout(new Promise(() => undefined), { what: 'never', timeoutMs: 10_000, signal: stop.signal })).rejects.toBeInstanceOf(InterruptedError)
    expect(await pause(10_000, stop.signal)).toBe(false)
  })

  it('withTimeout passes the value or the error through, and times out a promise that never settles', async () => {
    await expect(withTimeout(Promise.resolve(7), { what: 'seven', timeoutMs: 10_000 })).resolves.toBe(7)
    await expect(withTimeout(Promise.reject(new RangeError('boom')), { what: 'boom', timeoutMs: 10_000 })).rejects.toBeInstanceOf(RangeError)
    await expect(withTimeout(new Promise(() => undefined), { what: 'stop', timeoutMs: 5 })).rejects.toBeInstanceOf(WaitTimeoutError)
  })
})
