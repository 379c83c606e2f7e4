import { formatDuration } from './format'
import { snapshotAll } from './stats'
import { formatStatusEntry } from './table'
import { pause } from './waits'

import type { NetworkLogger } from './logger'
import type { NodeStats } from './stats'

export interface MonitorOptions {
  stats: readonly NodeStats[]
  log: NetworkLogger
  /** Label of network-wide lines. */
  label: string
  intervalMs: number
  /** undefined: until `signal` aborts. */
  durationMs: number | undefined
  signal?: AbortSignal
}

/** How monitoring ended. */
export type MonitorEnd = 'duration' | 'signal'

/**
 * Monitoring mode: one status line every `intervalMs` (peers, streams, head,
 * bytes per node) until `durationMs` has passed or `signal` aborts.
 */
export async function monitor(opts: MonitorOptions): Promise<MonitorEnd> {
  const started = Date.now()
  const until = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : started + opts.durationMs
  const forever = opts.durationMs === undefined ? 'until SIGINT/SIGTERM' : `for ${formatDuration(opts.durationMs)}`
  opts.log.log(opts.label, 'monitor', `monitoring ${forever}, a status line every ${formatDuration(opts.intervalMs)}`)
  for (;;) {
    const left = until - Date.now()
    if (left <= 0) return 'duration'
    const full = await pause(Math.min(opts.intervalMs, left), opts.signal)
    if (!full && opts.signal?.aborted === true) return 'signal'
    const rows = snapshotAll(opts.stats)
    opts.log.log(opts.label, 'monitor', `t+${formatDuration(Date.now() - started)}  ${rows.map(formatStatusEntry).join(' | ')}`)
  }
}
