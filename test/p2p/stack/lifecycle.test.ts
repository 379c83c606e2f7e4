import { describe, expect, it } from 'vitest'
import { Lifetime } from '../../../src/p2p/util/abort'
import { Latch } from '../../../src/p2p/util/events'

describe('Lifetime', () => {
  it('aborts a signal taken before the end with the first reason', () => {
    const life = new Lifetime()
    const signal = life.signal
    expect(signal.aborted).toBe(false)
    const first = new Error('first')
    life.end(first)
    life.end(new Error('second'))
    expect(life.ended).toBe(true)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBe(first)
    expect(life.signal).toBe(signal)
  })

  it('hands out an already-aborted signal when asked only after the end', () => {
    const life = new Lifetime()
    const reason = new Error('gone')
    life.end(reason)
    expect(life.signal.aborted).toBe(true)
    expect(life.signal.reason).toBe(reason)
  })

  it('takes more than ten listeners without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const life = new Lifetime()
      const listeners = Array.from({ length: 20 }, () => () => {})
      for (const l of listeners) life.signal.addEventListener('abort', l)
      await new Promise((resolve) => setImmediate(resolve))
      for (const l of listeners) life.signal.removeEventListener('abort', l)
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
