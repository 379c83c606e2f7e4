import { describeError } from '../../errors'

import { CheckList, exitCodeFor, formatSummary } from './checks'
import { InterruptedError } from './errors'
import { plural } from './format'
import { NetworkLogger } from './logger'
import { monitor } from './monitor'
import { LocalNetwork, NETWORK_LABEL } from './network'
import { awaitBlockRanges, awaitFirstPeers, awaitHeadsEqual, awaitMesh, awaitSynced, checkCarriers, checkVersions, recordShutdown, startNetwork } from './phases'
import { relayTransaction } from './propagation'
import { snapshotAll } from './stats'
import { formatMessagesTable, formatPeerScores, formatStatsTable } from './table'

import type { NetworkOptions } from './args'
import type { CheckResult } from './checks'
import type { LineSink } from './logger'
import type { PhaseContext } from './phases'
import type { NodeSnapshot } from './stats'

export interface RunEnvironment {
  /** Where every line goes (stdout for the CLI). */
  out: LineSink
  /** Aborting it interrupts the checks or ends monitoring; the network then shuts down gracefully. */
  signal?: AbortSignal
}

export interface NetworkResult {
  exitCode: number
  checks: readonly CheckResult[]
  /** Statistics taken last before the shutdown. */
  snapshots: NodeSnapshot[]
}

/**
 * One run of the local network: start the nodes, check peers, that the nodes
 * sync by themselves and form a mesh, that a transaction travels to node 1,
 * into a block and with it to every node, that all heads follow node 1; print
 * the statistics, monitor, shut down, and return the verdict (it never calls
 * process.exit: the CLI does).
 */
export async function runNetwork(options: NetworkOptions, env: RunEnvironment): Promise<NetworkResult> {
  const log = new NetworkLogger(env.out)
  log.fitLabels([NETWORK_LABEL, ...Array.from({ length: options.nodes }, (_, i) => `node${i + 1}`)])
  const checks = new CheckList()
  const net = new LocalNetwork(options, log)
  const ctx: PhaseContext = { net, options, checks, log, signal: env.signal }
  let snapshots: NodeSnapshot[] = []
  const transport = options.rlpx
    ? 'legacy RLPx (devp2p)'
    : options.mixed
      ? 'P2P stack, node2 on the legacy RlpxServer (RLPx between it and the others)'
      : 'P2P stack (ECIES + mplex + multistream-select)'
  log.log(NETWORK_LABEL, 'setup', `starting ${options.nodes} nodes over the ${transport} on 127.0.0.1`)
  try {
    if (await runChecks(ctx)) {
      snapshots = printTables(ctx, 'statistics after the checks')
      if (options.durationMs !== 0) {
        const end = await monitor({ stats: net.stats, log, label: NETWORK_LABEL, intervalMs: options.intervalMs, durationMs: options.durationMs, signal: env.signal })
        log.log(NETWORK_LABEL, 'monitor', end === 'signal' ? 'signal received, shutting down' : 'monitoring duration reached')
        snapshots = printTables(ctx, 'final statistics')
      }
    }
  } catch (err) {
    if (err instanceof InterruptedError) checks.fail('not interrupted', `${describeError(err)} (signal before the checks completed)`)
    else checks.fail('run completed', `unexpected error: ${describeError(err)}`)
    log.log(NETWORK_LABEL, 'error', describeError(err))
    if (snapshots.length === 0 && net.stats.length > 0) snapshots = printTables(ctx, 'statistics at the interruption')
  }
  log.log(NETWORK_LABEL, 'shutdown', `stopping ${plural(net.nodes.length, 'node')}`)
  recordShutdown(ctx, await net.stop())
  log.raw(['', 'Checks:', ...formatSummary(checks.results)].join('\n'))
  return { exitCode: exitCodeFor(checks.results), checks: checks.results, snapshots }
}

/** The checked flow; false when a failure makes the later checks meaningless. */
async function runChecks(ctx: PhaseContext): Promise<boolean> {
  if (!(await startNetwork(ctx))) return false
  if (!(await awaitFirstPeers(ctx))) return false
  // The mesh forms through discovery while the nodes sync; wait for both.
  await Promise.all([awaitSynced(ctx), awaitMesh(ctx)])
  await relayTransaction(ctx)
  await awaitHeadsEqual(ctx)
  checkVersions(ctx)
  checkCarriers(ctx)
  await awaitBlockRanges(ctx)
  await nextMacrotask()
  return true
}

/**
 * The bound protocol holds bus events (Status, requests) until the next
 * macrotask after a handshake; letting one pass before the statistics are
 * read keeps a session that completed a moment ago from looking half-counted.
 */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function printTables(ctx: PhaseContext, title: string): NodeSnapshot[] {
  const rows = snapshotAll(ctx.net.stats)
  const metrics = ctx.net.nodes.flatMap((n) => (n.metricsUrl === undefined ? [] : [`${n.label}: ${n.metricsUrl}`]))
  ctx.log.raw(
    [
      '',
      `${title}:`,
      ...formatStatsTable(rows),
      '',
      'eth messages by type (received/sent):',
      ...formatMessagesTable(rows),
      '',
      'peer reputation scores:',
      ...formatPeerScores(rows),
      ...(metrics.length === 0 ? [] : ['', 'metrics:', ...metrics]),
      '',
    ].join('\n'),
  )
  return rows
}
