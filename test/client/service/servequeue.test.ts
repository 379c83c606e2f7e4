import { describe, expect, it } from 'vitest'

import { ServiceError } from '../../../src/client/errors'
import { RequestFloodError, ServeQueue } from '../../../src/client/service/servequeue'

/** A request whose completion the test controls; records when it started. */
interface Gate {
  serve: () => Promise<void>
  started: boolean
  finish: () => void
  fail: (err: Error) => void
}

function gate(log: string[], label: string): Gate {
  let finish!: () => void
  let fail!: (err: Error) => void
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  const g: Gate = {
    started: false,
    finish: () => finish(),
    fail: (err) => fail(err),
    serve: () => {
      g.started = true
      log.push(label)
      return done
    },
  }
  return g
}

/**
 * Lets settled promises' reactions run and the queue take its next turn,
 * which it starts from the event loop (one check phase after a request ends).
 */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)))

describe('ServeQueue', () => {
  const a = { name: 'a' }
  const b = { name: 'b' }
  const c = { name: 'c' }

  it('serves one peer one request at a time, in the order they came', async () => {
    const q = new ServeQueue<object>({ concurrency: 4, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const gates = [gate(log, 'a1'), gate(log, 'a2'), gate(log, 'a3')]
    const runs = gates.map((g) => q.run(a, g.serve))
    await flush()
    expect(log).toEqual(['a1'])
    expect(q.queued(a)).toBe(2)
    gates[0]!.finish()
    await runs[0]
    await flush()
    expect(log).toEqual(['a1', 'a2'])
    gates[1]!.finish()
    gates[2]!.finish()
    await Promise.all(runs)
    expect(log).toEqual(['a1', 'a2', 'a3'])
    expect(q.running).toBe(0)
  })

  it('lets peers take turns: a burst of one peer delays another peer by at most one request', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 100 })
    const log: string[] = []
    const burst = Array.from({ length: 50 }, (_, i) => gate(log, `a${i}`))
    const burstRuns = burst.map((g) => q.run(a, g.serve))
    const other = gate(log, 'b0')
    const otherRun = q.run(b, other.serve)
    await flush()
    expect(log).toEqual(['a0'])
    burst[0]!.finish()
    await flush()
    // b's only request comes right after a's first, not after all fifty.
    expect(log).toEqual(['a0', 'b0'])
    other.finish()
    await otherRun
    for (const g of burst) g.finish()
    await Promise.all(burstRuns)
    expect(log).toHaveLength(51)
  })

  it('round-robins between busy peers', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const runs: Promise<void>[] = []
    const gates: Gate[] = []
    for (const [key, label] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      for (let i = 0; i < 3; i++) {
        const g = gate(log, `${label}${i}`)
        gates.push(g)
        runs.push(q.run(key, g.serve))
      }
    }
    for (let step = 0; step < gates.length; step++) {
      await flush()
      for (const g of gates) if (g.started) g.finish()
    }
    await Promise.all(runs)
    expect(gates.every((g) => g.started)).toBe(true)
    expect(log).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2'])
  })

  it('starts the next request from the event loop, so I/O waiting behind a burst is not starved', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 100 })
    const order: string[] = []
    // Requests that finish in promise reactions alone, as an in-memory chain's do.
    const runs = Array.from({ length: 20 }, (_, i) => q.run(a, async () => void order.push(`a${i}`)))
    // An event-loop callback queued now (an arriving socket read, say) runs long before the burst ends.
    const io = new Promise<void>((resolve) => setImmediate(() => {
      order.push('io')
      resolve()
    }))
    await Promise.all([...runs, io])
    expect(order.indexOf('io')).toBeLessThan(3)
    expect(order.filter((x) => x !== 'io')).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`))
  })

  it('never serves more than `concurrency` requests at once', async () => {
    const q = new ServeQueue<object>({ concurrency: 2, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const peers = [a, b, c, { name: 'd' }]
    const gates = peers.map((_, i) => gate(log, `p${i}`))
    const runs = peers.map((p, i) => q.run(p, gates[i]!.serve))
    await flush()
    expect(q.running).toBe(2)
    expect(log).toEqual(['p0', 'p1'])
    gates[1]!.finish()
    await flush()
    expect(log).toEqual(['p0', 'p1', 'p2'])
    expect(q.running).toBe(2)
    for (const g of gates) g.finish()
    await Promise.all(runs)
    expect(q.running).toBe(0)
  })

  it('refuses a request past maxQueuedPerPeer with a typed RequestFloodError; other peers are unaffected', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 3 })
    const log: string[] = []
    const gates = Array.from({ length: 4 }, (_, i) => gate(log, `a${i}`))
    // The first starts at once (it is not waiting), three more wait: the queue is full.
    const runs = gates.map((g) => q.run(a, g.serve))
    await flush()
    const err = await q.run(a, async () => undefined).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RequestFloodError)
    expect(err).toBeInstanceOf(ServiceError)
    expect((err as RequestFloodError).code).toBe('ERR_SERVICE_REQUEST_FLOOD')
    expect((err as Error).message).toMatch(/3 requests already waiting.*limit is 3/)
    const other = gate(log, 'b0')
    const otherRun = q.run(b, other.serve)
    for (const g of gates) g.finish()
    other.finish()
    await Promise.all([...runs, otherRun])
    expect(log).toEqual(['a0', 'b0', 'a1', 'a2', 'a3'])
  })

  it("passes a request's failure to its caller and goes on with the next one", async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const first = gate(log, 'a0')
    const second = gate(log, 'a1')
    const runs = [q.run(a, first.serve), q.run(a, second.serve)]
    const thrown = q.run(a, () => {
      throw new Error('synchronous failure')
    })
    await flush()
    first.fail(new Error('lookup failed'))
    await expect(runs[0]).rejects.toThrow('lookup failed')
    second.finish()
    await runs[1]
    await expect(thrown).rejects.toThrow('synchronous failure')
    expect(q.running).toBe(0)
  })

  it('drop() resolves the waiting requests without running them and ignores later ones; the running one finishes', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const gates = Array.from({ length: 3 }, (_, i) => gate(log, `a${i}`))
    const runs = gates.map((g) => q.run(a, g.serve))
    const other = gate(log, 'b0')
    const otherRun = q.run(b, other.serve)
    await flush()
    expect(q.drop(a)).toBe(2)
    await Promise.all([runs[1], runs[2]])
    await q.run(a, gates[1]!.serve)
    expect(q.queued(a)).toBe(0)
    gates[0]!.finish()
    await runs[0]
    await flush()
    expect(log).toEqual(['a0', 'b0'])
    other.finish()
    await otherRun
    // A new session (another key) of the same node is served as usual.
    const fresh = gate(log, 'a-new')
    const freshRun = q.run({ name: 'a' }, fresh.serve)
    await flush()
    fresh.finish()
    await freshRun
    expect(log).toEqual(['a0', 'b0', 'a-new'])
  })

  it('clear() resolves every waiting request without running it; later requests are served again', async () => {
    const q = new ServeQueue<object>({ concurrency: 1, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const head = gate(log, 'a0')
    const runs = [q.run(a, head.serve), q.run(a, gate(log, 'a1').serve), q.run(b, gate(log, 'b0').serve)]
    await flush()
    q.clear()
    head.finish()
    await Promise.all(runs)
    expect(log).toEqual(['a0'])
    // Unlike drop(), clear() (the service stopping) does not shut the peers out for good.
    const again = gate(log, 'b1')
    const run = q.run(b, again.serve)
    await flush()
    again.finish()
    await run
    expect(log).toEqual(['a0', 'b1'])
  })

  it('rejects options below 1', () => {
    expect(() => new ServeQueue({ concurrency: 0, maxQueuedPerPeer: 1 })).toThrow(ServiceError)
    expect(() => new ServeQueue({ concurrency: 1, maxQueuedPerPeer: 0 })).toThrow(/at least 1/)
  })
})
