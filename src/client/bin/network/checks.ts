/**
 * The run's verdict: a list of named checks. A required check that failed
 * makes the exit code non-zero; an advisory one is reported as a warning.
 */

export type CheckSeverity = 'required' | 'advisory'

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
  severity: CheckSeverity
}

/** Every check passed. */
export const EXIT_OK = 0
/** At least one required check failed (or none ran). */
export const EXIT_FAILED = 1
/** The command line was invalid. */
export const EXIT_USAGE = 2
/** A second signal cut the graceful shutdown short (128 + SIGINT, as shells report it). */
export const EXIT_FORCED = 130

export class CheckList {
  private readonly list: CheckResult[] = []

  add(name: string, ok: boolean, detail: string, severity: CheckSeverity = 'required'): CheckResult {
    const result = { name, ok, detail, severity }
    this.list.push(result)
    return result
  }

  pass(name: string, detail: string): CheckResult {
    return this.add(name, true, detail)
  }

  fail(name: string, detail: string): CheckResult {
    return this.add(name, false, detail)
  }

  get results(): readonly CheckResult[] {
    return this.list
  }
}

/** Required checks that failed. */
export function failedChecks(results: readonly CheckResult[]): CheckResult[] {
  return results.filter((r) => !r.ok && r.severity === 'required')
}

/** 0 only if there is at least one check and no required check failed: an empty list proves nothing. */
export function exitCodeFor(results: readonly CheckResult[]): number {
  return results.length > 0 && failedChecks(results).length === 0 ? EXIT_OK : EXIT_FAILED
}

function mark(r: CheckResult): string {
  if (r.ok) return 'PASS'
  return r.severity === 'required' ? 'FAIL' : 'WARN'
}

/** One line per check, then the verdict naming the failed checks. */
export function formatSummary(results: readonly CheckResult[]): string[] {
  const width = Math.max(0, ...results.map((r) => r.name.length))
  const lines = results.map((r) => `  [${mark(r)}] ${r.name.padEnd(width)}  ${r.detail}`)
  const failed = failedChecks(results)
  const warned = results.filter((r) => !r.ok && r.severity === 'advisory').length
  const warnText = warned > 0 ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''
  if (results.length === 0) lines.push('RESULT: FAILED (no check ran)')
  else if (failed.length === 0) lines.push(`RESULT: PASSED (${results.length} checks${warnText})`)
  else lines.push(`RESULT: FAILED (${failed.length} of ${results.length} checks failed${warnText}: ${failed.map((r) => r.name).join('; ')})`)
  return lines
}
