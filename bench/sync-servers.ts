/**
 * Child process of the sync bench: the serving side. Builds the bench's test chain (the
 * same deterministic blocks the parent builds), stores it once, and starts three serving
 * EthereumClients per path on it (useP2PServer true and false; none syncs). Serving runs on
 * this process's thread, so the parent's figures are the syncing node's own work, as on a
 * network where the peers are other machines.
 *
 * argv: <blocks> <txsPerBlock> <servers>. stdout: one JSON line {"p2p": [urls], "rlpx": [urls]}
 * once every server listens. stdin: "exit" (or end of input) stops the servers and exits.
 */
import './lib/polyfill'

import { createInterface } from 'node:readline'

import { filledChain } from './lib/chain'
import { type BenchClient, startClient } from './lib/client'

async function main(): Promise<void> {
  const [blocks, txsPerBlock, count] = process.argv.slice(2).map(Number) as [number, number, number]
  const chain = await filledChain(blocks, txsPerBlock)
  const servers: BenchClient[] = []
  const urls: Record<'p2p' | 'rlpx', string[]> = { p2p: [], rlpx: [] }
  for (const path of ['p2p', 'rlpx'] as const) {
    for (let i = 0; i < count; i++) {
      const s = await startClient(path, { chain, sync: false, maxPeers: 8 })
      servers.push(s)
      urls[path].push(s.url)
    }
  }
  process.stdout.write(`${JSON.stringify(urls)}\n`)
  const lines = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => {
    lines.on('line', (l) => l.trim() === 'exit' && resolve())
    lines.once('close', () => resolve())
  })
  lines.close()
  await Promise.all(servers.map((s) => s.stop()))
  await chain.close()
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) })}\n`)
    process.exit(1)
  },
)
