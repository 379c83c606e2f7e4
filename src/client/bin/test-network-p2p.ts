/**
 * Starts a local Ethereum network on 127.0.0.1 and proves it works: node 1
 * holds a chain, the others discover it, fetch and verify every block over
 * the P2P stack (or the legacy RLPx path with --rlpx), then it prints
 * statistics and monitors until SIGINT/SIGTERM or --duration.
 *
 *   bun run src/client/bin/test-network-p2p.ts [--help]
 *   npx tsx src/client/bin/test-network-p2p.ts --rlpx --duration 0
 */
import { describeError } from '../errors'
import { EXIT_FORCED, EXIT_USAGE } from './network/checks'
import { parseArgs, USAGE } from './network/args'
import { runNetwork } from './network/run'

const SIGNALS = ['SIGINT', 'SIGTERM'] as const

async function main(argv: readonly string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs(argv)
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n\n${USAGE}\n`)
    return EXIT_USAGE
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  // First signal: graceful shutdown (the run sees the abort). Second: exit at once.
  const stop = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      process.stderr.write(`${signal} again: forcing exit\n`)
      process.exit(EXIT_FORCED)
    }
    process.stderr.write(`${signal}: shutting down gracefully (send it again to force)\n`)
    stop.abort()
  }
  for (const s of SIGNALS) process.on(s, onSignal)
  try {
    const result = await runNetwork(parsed.options, { out: (line) => process.stdout.write(`${line}\n`), signal: stop.signal })
    return result.exitCode
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Every client is stopped by now; exiting explicitly guarantees a stray handle cannot keep us alive.
    process.stdout.write('', () => process.exit(code))
  },
  (err: unknown) => {
    process.stderr.write(`fatal: ${describeError(err)}\n`)
    process.exit(1)
  },
)
