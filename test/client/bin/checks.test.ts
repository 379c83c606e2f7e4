import { describe, expect, it } from 'vitest'

import { CheckList, EXIT_FAILED, EXIT_OK, exitCodeFor, failedChecks, formatSummary } from '../../../src/client/bin/network/checks'

describe('checks summary and exit code', () => {
  it('exits 0 only when at least one check ran and every required one passed', () => {
    const checks = new CheckList()
    expect(exitCodeFor(checks.results)).toBe(EXIT_FAILED)
    checks.pass('all nodes listening', '3 nodes')
    checks.pass('final heads equal', 'all at #64')
    expect(exitCodeFor(checks.results)).toBe(EXIT_OK)
    expect(formatSummary(checks.results).at(-1)).toBe('RESULT: PASSED (2 checks)')
  })

  it('treats a failed advisory check as a warning, not a failure', () => {
    const checks = new CheckList()
    checks.pass('node2 has a peer', '1 peer')
    checks.add('mesh of 2 peers per node', false, 'node3 has 1', 'advisory')
    expect(exitCodeFor(checks.results)).toBe(EXIT_OK)
    const lines = formatSummary(checks.results)
    expect(lines.some((l) => l.includes('[WARN] mesh of 2 peers per node'))).toBe(true)
    expect(lines.at(-1)).toBe('RESULT: PASSED (2 checks, 1 warning)')
  })

  it('fails on any failed required check and names every failed check', () => {
    const checks = new CheckList()
    checks.pass('all nodes listening', '3 nodes')
    checks.fail('node2 synced', 'timed out')
    checks.fail('final heads equal', 'node2 #0')
    checks.add('mesh of 2 peers per node', false, 'node3 has 1', 'advisory')
    expect(exitCodeFor(checks.results)).toBe(EXIT_FAILED)
    expect(failedChecks(checks.results).map((c) => c.name)).toEqual(['node2 synced', 'final heads equal'])
    const lines = formatSummary(checks.results)
    expect(lines).toContain('  [FAIL] node2 synced              timed out')
    expect(lines).toContain('  [PASS] all nodes listening       3 nodes')
    expect(lines.at(-1)).toBe('RESULT: FAILED (2 of 4 checks failed, 1 warning: node2 synced; final heads equal)')
  })

  it('reports an empty run as failed', () => {
    expect(formatSummary([])).toEqual(['RESULT: FAILED (no check ran)'])
  })
})
