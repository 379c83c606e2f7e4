/**
 * Regenerates bench/RESULTS.md: runs the whole suite under Node (tsx) and
 * under Bun, one after the other (never at once: they would share the
 * cores), and writes their tables with the machine and runtimes.
 *
 *   npm run bench:results                    full run (the lead's final runs)
 *   npm run bench:results -- --quick         quick sizes (checks the pipeline)
 *   npm run bench:results -- muxer bulk      some benches only
 * Extra arguments go to bench/index.ts unchanged.
 */
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { type RuntimeRun, parseRunOutput, renderResults } from './lib/markdown'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const INDEX = fileURLToPath(new URL('./index.ts', import.meta.url))
const OUT = fileURLToPath(new URL('./RESULTS.md', import.meta.url))

/** Runs bench/index.ts with `benchArgs` through `cmd prefix...`; `shown` is how RESULTS.md names the command. */
function run(label: string, shown: string, cmd: string, prefix: string[], benchArgs: string[]): Promise<RuntimeRun> {
  const command = [shown, 'bench/index.ts', ...benchArgs].join(' ')
  const args = [...prefix, INDEX, ...benchArgs]
  process.stderr.write(`\n[results] ${label}: ${command}\n`)
  return new Promise((resolve) => {
    let stdout = ''
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
      process.stdout.write(b)
    })
    child.once('error', (err) => resolve({ label, command, benches: [], failures: [], error: err.message }))
    child.once('close', (code) => {
      const parsed = parseRunOutput(stdout)
      resolve({ label, command, ...parsed, error: code === 0 || parsed.benches.length > 0 ? undefined : `exit code ${code}` })
    })
  })
}

function bunBinary(): string {
  const local = fileURLToPath(new URL('../node_modules/.bin/bun', import.meta.url))
  return existsSync(local) ? local : 'bun'
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const node = await run('Node (tsx)', 'tsx', process.execPath, process.execArgv, args)
  const bun = await run('Bun', 'bun', bunBinary(), [], args)
  const command = ['npm run bench:results', ...(args.length > 0 ? ['--', ...args] : [])].join(' ')
  writeFileSync(OUT, renderResults([node, bun], { quick, command }))
  process.stderr.write(`[results] wrote ${OUT}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
