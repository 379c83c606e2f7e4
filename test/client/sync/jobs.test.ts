import { describe, expect, it } from 'vitest'

import { JobQueue, itemJobs } from '../../../src/client/sync/jobs'

const hash = new Uint8Array(32)
const all = () => true

describe('JobQueue', () => {
  it('hands out the lowest-numbered waiting job first, headers before bodies and receipts at the same height', () => {
    const q = new JobQueue()
    q.add({ kind: 'receipts', numbers: [5n, 6n] })
    q.add({ kind: 'bodies', numbers: [5n, 6n] })
    q.add({ kind: 'headers', first: 9n, count: 4, parentHash: hash })
    q.add({ kind: 'headers', first: 5n, count: 4, parentHash: hash })
    const order = [q.take('a', all, 100n), q.take('a', all, 100n), q.take('a', all, 100n), q.take('a', all, 100n)].map((j) => `${j?.spec.kind}@${j?.lowest}`)
    expect(order).toEqual(['headers@5', 'bodies@5', 'receipts@5', 'headers@9'])
    expect(q.take('a', all, 100n)).toBeUndefined()
    expect(q.assigned).toBe(4)
  })

  it('keeps jobs at or beyond the window and those the peer may not take', () => {
    const q = new JobQueue()
    const far = q.add({ kind: 'bodies', numbers: [50n] })
    const near = q.add({ kind: 'bodies', numbers: [10n, 11n, 12n] })
    expect(near.highest).toBe(12n)
    expect(q.take('a', (j) => j.highest <= 11n, 100n)).toBeUndefined()
    expect(q.take('a', all, 50n)).toBe(near)
    expect(q.hasWaiting(50n)).toBe(false)
    expect(q.hasWaiting(51n)).toBe(true)
    expect(q.take('b', all, 51n)).toBe(far)
  })

  it('never gives one job to two peers; a failed peer loses all its jobs to the others', () => {
    const q = new JobQueue()
    const j1 = q.add({ kind: 'headers', first: 1n, count: 8, parentHash: hash })
    const j2 = q.add({ kind: 'headers', first: 9n, count: 8, parentHash: hash })
    expect(q.take('a', all, 100n)).toBe(j1)
    expect(q.take('a', all, 100n)).toBe(j2)
    expect(q.take('b', all, 100n)).toBeUndefined()
    expect(q.holds(j1, 'a')).toBe(true)
    expect(q.releasePeer('a')).toBe(2)
    expect(q.holds(j1, 'a')).toBe(false)
    expect(q.take('b', all, 100n)).toBe(j1)
    q.done(j1)
    expect(q.holds(j1, 'b')).toBe(false)
    expect(q.size).toBe(1)
  })

  it('does not hand a job back to a peer that put it off the synced chain', () => {
    const q = new JobQueue()
    const j = q.add({ kind: 'headers', first: 1n, count: 8, parentHash: hash })
    expect(q.take('a', all, 100n)).toBe(j)
    j.disagreed.add('a')
    q.release(j)
    expect(q.take('a', all, 100n)).toBeUndefined()
    expect(q.take('b', all, 100n)).toBe(j)
  })

  it('splits item numbers into batches', () => {
    expect(itemJobs('bodies', [1n, 2n, 4n, 7n, 8n], 2).map((j) => j.numbers)).toEqual([[1n, 2n], [4n, 7n], [8n]])
    expect(itemJobs('receipts', [], 2)).toEqual([])
  })
})
