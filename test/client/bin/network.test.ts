import { describe, expect, it } from 'vitest'

import { DEFAULT_OPTIONS, type NetworkOptions } from '../../../src/client/bin/network/args'
import { EXIT_FAILED, EXIT_OK } from '../../../src/client/bin/network/checks'
import { runNetwork } from '../../../src/client/bin/network/run'

/** Small and fast: ephemeral ports, a short chain, batches small enough to take several requests, a block every 0.5 s. */
const BASE: NetworkOptions = {
  ...DEFAULT_OPTIONS,
  nodes: 3,
  basePort: 0,
  discBasePort: 0,
  blocks: 6,
  txsPerBlock: 2,
  batch: 4,
  devPeriodMs: 500,
  timeoutMs: 20_000,
  discoveryRefreshMs: 1_000,
  intervalMs: 100,
}

/**
 * Runs the whole flow in-process and ends monitoring the way SIGINT does:
 * the run's AbortSignal fires as soon as monitoring has started.
 */
async function runUntilMonitoring(options: NetworkOptions) {
  const lines: string[] = []
  const stop = new AbortController()
  const result = await runNetwork(
    { ...options, durationMs: undefined },
    {
      signal: stop.signal,
      out: (line) => {
        lines.push(line)
        if (line.includes('monitoring until SIGINT/SIGTERM')) stop.abort()
      },
    },
  )
  return { result, lines }
}

type Transport = 'rlpx' | 'p2p'

/** `transport`: every node's, or each node's in order (--mixed). */
function expectWorkingNetwork(result: Awaited<ReturnType<typeof runNetwork>>, lines: string[], transport: Transport | readonly Transport[], version = 70) {
  const failed = result.checks.filter((c) => !c.ok && c.severity === 'required')
  expect(failed, lines.join('\n')).toEqual([])
  expect(result.exitCode).toBe(EXIT_OK)
  const names = result.checks.map((c) => c.name)
  // The sync and mesh checks finish in either order (they run at once).
  // --mixed adds the check of which multiplexer carries each session.
  expect(names).toHaveLength((version >= 69 ? 13 : 12) + (typeof transport === 'string' ? 0 : 1))
  expect(names).toEqual(expect.arrayContaining([
    'all nodes listening',
    'node2 has a peer',
    'node3 has a peer',
    'node2 synced',
    'node3 synced',
    'mesh of 2 peers per node',
    'transaction reaches node1',
    'transaction included in a block',
    'block with the transaction on every node',
    'heads follow node1',
    `eth/${version} on every session`,
    'clean shutdown',
  ]))
  expect(names.includes("peers' block ranges current")).toBe(version >= 69)
  const synced = result.checks.find((c) => c.name === 'node2 synced')
  expect(synced?.detail).toMatch(/at node1's head #\d+ in .*: \d+ headers, \d+ bodies, \d+ receipt lists fetched, verified and executed, from node/)

  // Statistics: every node at least at the chain node 1 started with, traffic counted on both sides.
  const [boot, ...others] = result.snapshots
  expect(result.snapshots).toHaveLength(3)
  for (const [i, s] of result.snapshots.entries()) {
    expect(s.transport).toBe(typeof transport === 'string' ? transport : transport[i])
    expect(s.height).toBeGreaterThanOrEqual(6n)
    expect(s.bytesIn).toBeGreaterThan(0)
    expect(s.bytesOut).toBeGreaterThan(0)
  }
  // Each non-boot node's synchronizer asked for the head, the ancestor and 6/4 -> 2 header segments; bodies and receipts in 2 batches each.
  for (const s of others) {
    expect(s.messagesIn.get('BlockHeaders') ?? 0).toBeGreaterThanOrEqual(3)
    expect(s.messagesIn.get('BlockBodies') ?? 0).toBeGreaterThanOrEqual(2)
    expect(s.messagesIn.get('Receipts') ?? 0).toBeGreaterThanOrEqual(2)
    expect(s.messagesIn.get('Status')).toBeGreaterThanOrEqual(1)
    // Node 1's produced blocks were announced to it (by the head announcement of its version).
    expect(s.messagesIn.get(version >= 69 ? 'BlockRangeUpdate' : 'NewBlockHashes') ?? 0).toBeGreaterThanOrEqual(1)
  }
  expect(boot!.messagesOut.get('BlockBodies') ?? 0).toBeGreaterThanOrEqual(1)

  // The event log covers discovery, connection, Status, sync, head moves, the transaction, and the run ended gracefully.
  for (const category of ['discover', 'connect', 'status', 'sync', 'chain', 'tx', 'serve', 'monitor', 'shutdown']) {
    expect(lines.some((l) => l.includes(` ${category} `)), `no "${category}" line`).toBe(true)
  }
  expect(lines.some((l) => l.includes(`Status from node1: eth/${version} `))).toBe(true)
  expect(lines).toContain('statistics after the checks:')
  expect(lines.at(-1)).toMatch(/^RESULT: PASSED/)
}

describe('test-network-p2p flow (in-process, ephemeral ports)', () => {
  it('two nodes sync from the producing bootnode by themselves over the legacy RLPx path, a transaction travels into a block, and it shuts down on the signal', async () => {
    const { result, lines } = await runUntilMonitoring({ ...BASE, rlpx: true })
    expectWorkingNetwork(result, lines, 'rlpx')
  })

  it('the same over the P2P stack', async () => {
    const { result, lines } = await runUntilMonitoring({ ...BASE, rlpx: false })
    expectWorkingNetwork(result, lines, 'p2p')
    expect(lines.some((l) => l.includes(' upgrade ') && l.includes('ECIES'))).toBe(true)
    expect(lines.some((l) => l.includes(' negotiated /eth/70/1.0.0'))).toBe(true)
    for (const s of result.snapshots) expect(s.streams).toBeGreaterThanOrEqual(1)
  })

  it('runs a mixed network with --mixed: node2 on RlpxServer, the P2P nodes talk RLPx with it and mplex with each other', async () => {
    const { result, lines } = await runUntilMonitoring({ ...BASE, mixed: true })
    expectWorkingNetwork(result, lines, ['p2p', 'rlpx', 'p2p'])
    const carriers = result.checks.find((c) => c.name === 'RLPx with the RlpxServer node, mplex between P2P nodes')
    expect(carriers?.ok, carriers?.detail).toBe(true)
    expect(carriers?.detail).toContain('node1-node2 rlpx')
    expect(lines.some((l) => l.includes(' upgrade ') && l.includes('RLPx Hello'))).toBe(true)
  })

  it.each([
    ['P2P stack', false],
    ['legacy RLPx path', true],
  ] as const)('runs the whole network at eth/68 with --eth 68 (%s)', async (_path, rlpx) => {
    const { result, lines } = await runUntilMonitoring({ ...BASE, rlpx, ethVersions: [68] })
    expectWorkingNetwork(result, lines, rlpx ? 'rlpx' : 'p2p', 68)
    if (!rlpx) expect(lines.some((l) => l.includes(' negotiated /eth/70/1.0.0'))).toBe(false)
  })

  it('reports an interruption before the checks completed as a failure, and still shuts down cleanly', async () => {
    const lines: string[] = []
    const stop = new AbortController()
    stop.abort()
    const result = await runNetwork({ ...BASE, rlpx: true, durationMs: 0 }, { signal: stop.signal, out: (l) => lines.push(l) })
    expect(result.exitCode).toBe(EXIT_FAILED)
    expect(result.checks.find((c) => c.name === 'not interrupted')?.ok).toBe(false)
    expect(result.checks.find((c) => c.name === 'clean shutdown')?.ok).toBe(true)
    expect(lines.at(-1)).toMatch(/^RESULT: FAILED .*not interrupted/)
  })
})
