import { describe, expect, it } from 'vitest'
import { Lifetime } from '../../../src/p2p/util/abort'
import { Latch } from '../../../src/p2p/util/events'

describe('Lifetime', () => {
  it('aborts a held signal with the first reason', () => {
    const life = new Lifetime()
    const signal = life.acquire()
    expect(signal.aborted).toBe(false)
    const first = new Error('first')
    life.end(first)
    life.end(new Error('second'))
    expect(life.ended).toBe(true)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBe(first)
  })

  it('shares one signal among holders and lets it go when the last releases', () => {
    const life = new Lifetime()
    const a = life.acquire()
    const b = life.acquire()
    expect(b).toBe(a)
    life.release()
    expect(life.acquire()).toBe(a)
    life.release()
    life.release()
    const fresh = life.acquire()
    expect(fresh).not.toBe(a)
    life.end(new Error('end'))
    expect(fresh.aborted).toBe(true)
    expect(a.aborted).toBe(false) // released before the end: nobody is listening to it
  })

  it('hands out an already-aborted signal once ended', () => {
    const life = new Lifetime()
    const reason = new Error('gone')
    life.end(reason)
    const signal = life.acquire()
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBe(reason)
  })

  it('takes more than ten listeners without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const life = new Lifetime()
      const signal = life.acquire()
      const listeners = Array.from({ length: 20 }, () => () => {})
      for (const l of listeners) signal.addEventListener('abort', l)
      await new Promise((resolve) => setImmediate(resolve))
      for (const l of listeners) signal.removeEventListener('abort', l)
      life.release()
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })
})

describe('Latch', () => {
  it('releases waiters from before and after it opens, once', async () => {
    const latch = new Latch()
    const order: string[] = []
    const early = latch.wait().then(() => order.push('early'))
    expect(latch.isOpen).toBe(false)
    latch.open()
    latch.open()
    const late = latch.wait().then(() => order.push('late'))
    await Promise.all([early, late])
    expect(latch.isOpen).toBe(true)
    expect(order).toEqual(['early', 'late'])
  })

  it('keeps a waiter pending while closed', async () => {
    const latch = new Latch()
    let released = false
    void latch.wait().then(() => (released = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(released).toBe(false)
    latch.open()
    await new Promise((resolve) => setImmediate(resolve))
    expect(released).toBe(true)
  })
})
