import { describe, expect, it } from 'vitest'

import { DEFAULT_OPTIONS, USAGE, nodePort, parseArgs } from '../../../src/client/bin/network/args'
import { ArgsError } from '../../../src/client/bin/network/errors'

function run(argv: string[]) {
  const parsed = parseArgs(argv)
  if (parsed.kind !== 'run') throw new Error('expected run options')
  return parsed.options
}

function argsError(argv: string[]): ArgsError {
  try {
    parseArgs(argv)
  } catch (err) {
    expect(err).toBeInstanceOf(ArgsError)
    expect((err as ArgsError).code).toBe('ERR_NETWORK_ARGS')
    return err as ArgsError
  }
  throw new Error(`parseArgs(${argv.join(' ')}) did not throw`)
}

describe('parseArgs', () => {
  it('gives the documented defaults for an empty command line', () => {
    const o = run([])
    expect(o).toEqual(DEFAULT_OPTIONS)
    expect(o).toMatchObject({ nodes: 3, basePort: 30450, discBasePort: 30350, blocks: 64, rlpx: false, timeoutMs: 60_000, intervalMs: 5_000 })
    expect(o.durationMs).toBeUndefined()
  })

  it('reads values in both --flag value and --flag=value forms', () => {
    const o = run(['--nodes', '5', '--base-port=4000', '--disc-base-port', '5000', '--blocks=8', '--batch', '4', '--max-peers', '3'])
    expect(o).toMatchObject({ nodes: 5, basePort: 4000, discBasePort: 5000, blocks: 8, batch: 4, maxPeers: 3 })
  })

  it('converts seconds to milliseconds, with fractions, and 0 duration means no monitoring', () => {
    const o = run(['--timeout', '1.5', '--interval=0.25', '--duration', '0', '--discovery-refresh', '2'])
    expect(o).toMatchObject({ timeoutMs: 1500, intervalMs: 250, durationMs: 0, discoveryRefreshMs: 2000 })
    expect(run(['--duration', '30']).durationMs).toBe(30_000)
  })

  it('reads --eth as the versions every node offers, highest first; 70..66 by default', () => {
    expect(run([]).ethVersions).toEqual([70, 69, 68, 67, 66])
    expect(run(['--eth', '68']).ethVersions).toEqual([68])
    expect(run(['--eth=66,70,68']).ethVersions).toEqual([70, 68, 66])
    expect(argsError(['--eth', '65']).message).toContain('eth/65 is not supported')
    expect(argsError(['--eth', '68,68']).message).toContain('listed twice')
    expect(argsError(['--eth', 'x']).message).toContain('expects eth versions')
    expect(argsError(['--eth']).message).toContain('--eth needs a value')
  })

  it('takes the bootnode\'s block period: 2 s by default, fractions allowed, 0 = no production', () => {
    expect(run([]).devPeriodMs).toBe(2_000)
    expect(run(['--dev-period', '0.5']).devPeriodMs).toBe(500)
    expect(run(['--dev-period=0']).devPeriodMs).toBe(0)
  })

  it('takes boolean flags without consuming the next argument', () => {
    const o = run(['--rlpx', '--nodes', '4', '--require-mesh'])
    expect(o).toMatchObject({ rlpx: true, nodes: 4, requireMesh: true, metrics: false })
    expect(run(['--metrics', '--nodes', '2'])).toMatchObject({ metrics: true, nodes: 2 })
    expect(run(['--mixed', '--nodes', '4'])).toMatchObject({ mixed: true, rlpx: false, nodes: 4 })
    expect(argsError(['--mixed', '--rlpx']).message).toContain('exclude each other')
  })

  it('returns help for -h / --help wherever it appears', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' })
    expect(parseArgs(['--nodes', '4', '-h'])).toEqual({ kind: 'help' })
    for (const flag of ['--nodes', '--base-port', '--disc-base-port', '--blocks', '--rlpx', '--timeout', '--interval', '--duration']) {
      expect(USAGE).toContain(flag)
    }
  })

  it('rejects unknown arguments, missing values and malformed numbers', () => {
    expect(argsError(['--node', '3']).message).toContain('unknown argument "--node"')
    expect(argsError(['extra']).message).toContain('unknown argument')
    expect(argsError(['--nodes']).message).toContain('--nodes needs a value')
    expect(argsError(['--nodes', '--rlpx']).message).toContain('--nodes needs a value')
    expect(argsError(['--blocks', 'many']).message).toContain('expects an integer')
    expect(argsError(['--blocks', '1.5']).message).toContain('expects an integer')
    expect(argsError(['--timeout', '-1']).message).toContain('expects a number of seconds')
    expect(argsError(['--rlpx=yes']).message).toContain('takes no value')
  })

  it('enforces the ranges', () => {
    expect(argsError(['--nodes', '1']).message).toContain('--nodes must be in 2..')
    expect(argsError(['--nodes', '33']).message).toContain('--nodes must be in 2..32')
    expect(argsError(['--blocks', '0']).message).toContain('--blocks must be in 1..')
    expect(argsError(['--base-port', '70000']).message).toContain('0..65535')
    expect(argsError(['--batch', '1025']).message).toContain('1..1024')
    expect(argsError(['--timeout', '0']).message).toContain('more than 0')
    expect(argsError(['--interval', '0']).message).toContain('more than 0')
    expect(argsError(['--duration', '9999999']).message).toContain('too large')
  })

  it('refuses a base port that leaves no room for every node', () => {
    expect(argsError(['--base-port', '65534', '--nodes', '3']).message).toContain('last port 65536')
    expect(run(['--base-port', '65533', '--nodes', '3']).basePort).toBe(65533)
    expect(argsError(['--disc-base-port', '65535', '--nodes', '2']).message).toContain('--disc-base-port')
  })
})

describe('nodePort', () => {
  it('numbers ports from the base, or leaves every node on 0 (a free port)', () => {
    expect([0, 1, 2].map((i) => nodePort(30450, i))).toEqual([30450, 30451, 30452])
    expect([0, 1, 2].map((i) => nodePort(0, i))).toEqual([0, 0, 0])
  })
})
