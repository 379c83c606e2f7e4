import { describe, expect, it } from 'vitest'

import { LruMap } from '../../../src/p2p/util/lru'

describe('LruMap', () => {
  it('drops the least recently used entry past its capacity; a read counts as a use', () => {
    const m = new LruMap<string, number>(2)
    m.set('a', 1)
    m.set('b', 2)
    expect(m.get('a')).toBe(1) // a is now the most recent
    m.set('c', 3)
    expect(m.get('b')).toBeUndefined()
    expect(m.get('a')).toBe(1)
    expect(m.get('c')).toBe(3)
    expect(m.size).toBe(2)
  })

  it('overwrites in place, deletes and clears', () => {
    const m = new LruMap<string, number>(2)
    m.set('a', 1)
    m.set('a', 2)
    expect(m.size).toBe(1)
    expect(m.get('a')).toBe(2)
    m.delete('a')
    expect(m.get('a')).toBeUndefined()
    m.set('b', 1)
    m.clear()
    expect(m.size).toBe(0)
  })

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new LruMap(0)).toThrow(RangeError)
    expect(() => new LruMap(1.5)).toThrow(/positive integer/)
  })
})
