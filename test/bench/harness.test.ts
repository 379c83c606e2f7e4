import { describe, expect, it } from 'vitest'

import { parseArgs } from '../../bench/lib/args'
import { Waiters } from '../../bench/lib/bench'
import { parseRunOutput, renderResults } from '../../bench/lib/markdown'
import { type BenchReport, jsonLine, ratioOf, row, tableLines } from '../../bench/lib/report'
import { alternate, orderOf, pool, withTimeout } from '../../bench/lib/rounds'
import { mbPerSec, median, p99, quantile } from '../../bench/lib/stats'

const NAMES = ['connect', 'bulk', 'muxer']

function report(): BenchReport {
  return {
    bench: 'demo',
    rounds: 3,
    headline: 1,
    rows: [
      row({ metric: 'latency', unit: 'ms', better: 'lower', ours: 10, anchor: 40, anchorName: 'legacy' }),
      row({ metric: 'rate', unit: 'op/s', better: 'higher', ours: 50, anchor: 10, anchorName: 'legacy', target: 5 }),
    ],
    notes: ['a note'],
  }
}

describe('bench stats', () => {
  it('median, nearest-rank quantiles and rates', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(Number.isNaN(median([]))).toBe(true)
    const xs = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(p99(xs)).toBe(99)
    expect(quantile(xs, 1)).toBe(100)
    expect(quantile([5], 0.5)).toBe(5)
    expect(() => quantile(xs, 1.5)).toThrow(RangeError)
    expect(mbPerSec(2e6, 1000)).toBe(2)
  })
})

describe('bench report', () => {
  it('orients every ratio so that > 1 means ours is better', () => {
    expect(ratioOf({ better: 'higher', ours: 50, anchor: 10 })).toBe(5)
    expect(ratioOf({ better: 'lower', ours: 10, anchor: 40 })).toBe(4)
    expect(Number.isNaN(ratioOf({ better: 'higher', ours: 0, anchor: 10 }))).toBe(true)
  })

  it('puts the headline row at the top level of the one JSON line', () => {
    const line = jsonLine(report(), { runtime: 'node v20', quick: false })
    expect(line).toMatchObject({ bench: 'demo', metric: 'rate', unit: 'op/s', ours: 50, anchor: 10, ratio: 5, rounds: 3 })
    expect(line.rows).toHaveLength(2)
    const text = JSON.stringify(line)
    expect(text.startsWith('{"bench":"demo"')).toBe(true)
    expect(text.includes('\n')).toBe(false)
  })

  it('marks targets met or missed in the table', () => {
    const lines = tableLines(report())
    expect(lines[2]).toContain('4.00×')
    expect(lines[3]).toContain('5.00× met (target ≥ 5×)')
    const missed = { ...report(), rows: [row({ metric: 'x', unit: 'u', better: 'higher', ours: 1, anchor: 1, anchorName: 'a', target: 2 })], headline: 0 }
    expect(tableLines(missed)[2]).toContain('missed')
  })
})

describe('bench rounds', () => {
  it('alternates which side goes first, round by round', async () => {
    expect(orderOf(0)).toEqual(['ours', 'anchor'])
    expect(orderOf(1)).toEqual(['anchor', 'ours'])
    const calls: string[] = []
    const res = await alternate({
      rounds: 3,
      warmup: { ours: async () => calls.push('warm-ours'), anchor: async () => calls.push('warm-anchor') },
      ours: async (r) => (calls.push(`ours${r}`), r),
      anchor: async (r) => (calls.push(`anchor${r}`), -r),
    })
    expect(calls).toEqual(['warm-ours', 'warm-anchor', 'ours0', 'anchor0', 'anchor1', 'ours1', 'ours2', 'anchor2'])
    expect(res).toEqual({ ours: [0, 1, 2], anchor: [-0, -1, -2] })
    await expect(alternate({ rounds: 0, ours: async () => 1, anchor: async () => 1 })).rejects.toThrow(RangeError)
  })

  it('pool keeps at most `concurrency` tasks in flight and runs each index once', async () => {
    let inFlight = 0
    let peak = 0
    const seen: number[] = []
    await pool(20, 4, async (i) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      seen.push(i)
      await new Promise((r) => setImmediate(r))
      inFlight--
    })
    expect(peak).toBe(4)
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  it('withTimeout rejects a promise that never settles', async () => {
    await expect(withTimeout(new Promise(() => {}), 10, 'never')).rejects.toThrow('never: no result within 10 ms')
    await expect(withTimeout(Promise.resolve(7), 1000, 'soon')).resolves.toBe(7)
  })

  it('Waiters settles a wait registered before or after the event', async () => {
    const w = new Waiters<number>()
    const before = w.wait('a')
    w.resolve('a', 1)
    w.resolve('b', 2)
    w.reject('c', new Error('boom'))
    await expect(before).resolves.toBe(1)
    await expect(w.wait('b')).resolves.toBe(2)
    await expect(w.wait('c')).rejects.toThrow('boom')
  })
})

describe('bench arguments', () => {
  it('selects benches by name, all by default, and parses options', () => {
    expect(parseArgs([], NAMES)).toMatchObject({ names: NAMES, quick: false })
    expect(parseArgs(['muxer', '--quick', '--rounds', '3'], NAMES)).toMatchObject({ names: ['muxer'], quick: true, rounds: 3 })
    expect(parseArgs(['--rounds=2', 'bulk', 'bulk'], NAMES)).toMatchObject({ names: ['bulk'], rounds: 2 })
    expect(() => parseArgs(['nope'], NAMES)).toThrow(/unknown bench/)
    expect(() => parseArgs(['--rounds', '0'], NAMES)).toThrow(/positive integer/)
    expect(() => parseArgs(['--fast'], NAMES)).toThrow(/unknown option/)
  })
})

describe('RESULTS.md', () => {
  it('parses a run and renders machine, targets and tables per runtime', () => {
    const env = { runtime: 'node v20.20.2', nproc: 2, cpu: 'Test CPU', memoryGiB: 8, platform: 'linux', loadavg: [1, 1, 1], date: 'today' }
    const stdout = [
      JSON.stringify({ env, quick: false, benches: ['demo'] }),
      'table text',
      JSON.stringify(jsonLine(report(), { runtime: env.runtime, quick: false })),
      JSON.stringify({ bench: 'broken', error: 'it failed', runtime: env.runtime }),
    ].join('\n')
    const parsed = parseRunOutput(stdout)
    expect(parsed.env?.cpu).toBe('Test CPU')
    expect(parsed.benches.map((b) => b.bench)).toEqual(['demo'])
    expect(parsed.failures).toEqual([{ bench: 'broken', error: 'it failed' }])
    const md = renderResults([{ label: 'Node (tsx)', command: 'tsx bench/index.ts', ...parsed }], { quick: false, command: 'npm run bench:results' })
    expect(md).toContain('Test CPU, nproc 2, memory 8 GiB')
    expect(md).toContain('| demo | rate vs legacy | ≥ 5× | 5.00× met |')
    expect(md).toContain('### demo')
    expect(md).toContain('Failed: `it failed`')
  })
})
