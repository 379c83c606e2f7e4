/**
 * Child process of the memory bench: one EthereumClient (the hub) whose heap
 * and RSS are measured while peers connect to it from the parent process.
 * A fresh process per measurement keeps the figures free of the parent's
 * heap, of the other path's leftovers and of the dialers' own memory.
 *
 * argv: <p2p|rlpx> <maxPeers>. stdout: JSON lines only. stdin commands, one per line:
 *   wait <n>   reply {"peers": n} once the hub's peer pool holds n peers
 *   measure    settle, collect garbage, reply {"heapUsed", "external", "rss", "peers"}
 *   snapshot <file>  (Node) collect garbage, write a V8 heap snapshot to <file>, reply {"snapshot": file};
 *              for finding what a peer costs (diff two snapshots), not used by the bench itself
 *   exit       stop the client and exit
 */
import './lib/polyfill'

import { createInterface } from 'node:readline'

import { Event } from '../src/client/types'
import { type BenchClient, type Path, startClient } from './lib/client'
import { fullGc } from './lib/env'

/** Time for in-flight handshake buffers and timers of the last peers to be released before measuring. */
const SETTLE_MS = 1_000
const WAIT_PEERS_MS = 120_000

function reply(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function waitPeers(hub: BenchClient, n: number): Promise<number> {
  const pool = hub.client.service.pool
  const events = hub.client.config.events
  if (pool.size >= n) return Promise.resolve(pool.size)
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pool.size < n) return
      done()
      resolve(pool.size)
    }
    const done = (): void => {
      clearTimeout(timer)
      events.off(Event.POOL_PEER_ADDED, check)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`hub has ${pool.size} of ${n} peers after ${WAIT_PEERS_MS} ms`))
    }, WAIT_PEERS_MS)
    events.on(Event.POOL_PEER_ADDED, check)
  })
}

async function measure(hub: BenchClient): Promise<Record<string, number>> {
  await sleep(SETTLE_MS)
  // Several passes: finalizers and weak references free more on the next one.
  for (let i = 0; i < 3; i++) {
    if (!fullGc()) throw new Error('no garbage collector access (node needs --expose-gc)')
    await new Promise((resolve) => setImmediate(resolve))
  }
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss, peers: hub.client.service.pool.size }
}

async function snapshot(hub: BenchClient, file: string): Promise<string> {
  await measure(hub)
  const { writeHeapSnapshot } = await import('node:v8')
  return writeHeapSnapshot(file)
}

async function main(): Promise<void> {
  const path = process.argv[2] as Path
  const maxPeers = Number(process.argv[3])
  if ((path !== 'p2p' && path !== 'rlpx') || !Number.isInteger(maxPeers)) throw new Error('usage: memory-hub.ts <p2p|rlpx> <maxPeers>')
  const hub = await startClient(path, { maxPeers })
  reply({ ready: true, url: hub.url })
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/)
    try {
      if (cmd === 'wait') reply({ peers: await waitPeers(hub, Number(arg)) })
      else if (cmd === 'measure') reply(await measure(hub))
      else if (cmd === 'snapshot' && arg !== undefined) reply({ snapshot: await snapshot(hub, arg) })
      else if (cmd === 'exit') break
      else reply({ error: `unknown command ${line}` })
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) })
    }
  }
  lines.close()
  await hub.stop()
  reply({ stopped: true })
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    reply({ error: err instanceof Error ? err.message : String(err) })
    process.exit(1)
  },
)
