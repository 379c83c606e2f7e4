/**
 * Sizes of the reliability scenarios. `npm test` runs the quick size; `npm run
 * soak` (test/soak/vitest.config.ts) sets SOAK=1 and the same files run at the
 * issue's full size (500 churn cycles, more flaps, ...). A size can also be
 * forced per scenario with its own variable, e.g. CHURN_CYCLES=200.
 */
export const SOAK = process.env.SOAK === '1'

/** `quick` in a normal run, `full` under SOAK=1; `envName` overrides both. */
export function size(envName: string, quick: number, full: number): number {
  const raw = process.env[envName]
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${envName} must be a positive integer, got ${JSON.stringify(raw)}`)
    return n
  }
  return SOAK ? full : quick
}

/** Vitest timeout for a scenario: the quick bound, or the soak bound under SOAK=1. */
export function timeout(quickMs: number, soakMs: number): number {
  return SOAK ? soakMs : quickMs
}
