/**
 * Benchmark runner: `npm run bench` (all), `npm run bench -- <name>...` (some),
 * `--quick` (small sizes, for CI), `--rounds N`, `--list`.
 * Runs under Node (tsx) and Bun (`npx bun bench/index.ts`).
 *
 * stdout: per bench a table, notes and one JSON line starting with `{"bench":`;
 * the run starts with one `{"env":...}` line. Progress goes to stderr.
 */
import './lib/polyfill'

import { parseArgs } from './lib/args'
import type { Bench } from './lib/bench'
import { runEnv } from './lib/env'
import { printReport } from './lib/report'
import { BENCHES } from './registry'

/** Longer than devp2p's 2 s socket-end timer. */
const EXIT_GRACE_MS = 5_000

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), BENCHES.map((b) => b.name))
  if (args.help || args.list) {
    process.stdout.write(`usage: bench/index.ts [--quick] [--rounds N] [name...]\n`)
    for (const b of BENCHES) process.stdout.write(`  ${b.name.padEnd(8)} ${b.description}\n`)
    return 0
  }
  const env = runEnv()
  const out = (s: string): void => void process.stdout.write(`${s}\n`)
  const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`)
  out(JSON.stringify({ env, quick: args.quick, benches: args.names }))
  const selected: Bench[] = args.names.map((n) => BENCHES.find((b) => b.name === n)!)
  let failed = 0
  for (const bench of selected) {
    const t0 = performance.now()
    log(`${bench.name}: start${args.quick ? ' (quick)' : ''}`)
    try {
      const report = await bench.run({ quick: args.quick, rounds: args.rounds, log })
      printReport(report, { runtime: env.runtime, quick: args.quick }, out)
      log(`${bench.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    } catch (err) {
      failed++
      const msg = err instanceof Error ? (err.stack ?? err.message) : String(err)
      out(JSON.stringify({ bench: bench.name, error: err instanceof Error ? err.message : String(err), runtime: env.runtime }))
      log(`${bench.name}: FAILED\n${msg}`)
    }
  }
  return failed === 0 ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
    // Every bench closes what it opened, so the process ends by itself (devp2p
    // may keep it a moment: it ends sockets from a 2 s timer). Anything still
    // open after the grace period is reported, and the run ends anyway.
    setTimeout(() => {
      const open = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.() ?? []
      process.stderr.write(`[bench] still open after ${EXIT_GRACE_MS} ms: ${open.join(', ') || 'unknown'}\n`)
      process.exit(code)
    }, EXIT_GRACE_MS).unref()
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(2)
  },
)
