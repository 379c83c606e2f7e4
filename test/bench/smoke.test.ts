import '../../bench/lib/polyfill'

import { describe, expect, it } from 'vitest'

import { muxer } from '../../bench/muxer'

/**
 * The suite itself runs in CI as `npm run bench -- --quick`; this keeps one
 * bench's wiring (both sides, alternation, report) inside `npm test` too.
 * Nothing is asserted about speed: only that both sides produced figures.
 */
describe('bench smoke', () => {
  it('the muxer bench runs both sides and reports finite figures', async () => {
    const report = await muxer.run({ quick: true, rounds: 1, log: () => {} })
    expect(report.bench).toBe('muxer')
    expect(report.rows.length).toBeGreaterThan(0)
    for (const r of report.rows) {
      expect(r.ours).toBeGreaterThan(0)
      expect(r.anchor).toBeGreaterThan(0)
      expect(Number.isFinite(r.ratio)).toBe(true)
    }
  })
})
