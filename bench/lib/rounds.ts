/**
 * Ours and the anchor, alternating, several rounds, in one process run.
 *
 * Round r runs ours first when r is even and the anchor first when r is odd
 * (ABBA order), so a drift in machine load, heap growth or JIT state hits
 * both sides alike instead of always favouring the side that runs first.
 */

export type Side = 'ours' | 'anchor'

export interface AlternateOptions<T> {
  rounds: number
  ours: (round: number) => Promise<T>
  anchor: (round: number) => Promise<T>
  /** Runs once per side before round 0, unrecorded: compiles hot paths, loads WASM, warms caches. */
  warmup?: { ours: () => Promise<unknown>; anchor: () => Promise<unknown> }
  /** Progress lines (to stderr, so stdout stays table + JSON). */
  log?: (msg: string) => void
  label?: string
}

export interface Alternated<T> {
  ours: T[]
  anchor: T[]
}

/** The order of the two sides in round `round`. */
export function orderOf(round: number): [Side, Side] {
  return round % 2 === 0 ? ['ours', 'anchor'] : ['anchor', 'ours']
}

export async function alternate<T>(opts: AlternateOptions<T>): Promise<Alternated<T>> {
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new RangeError(`rounds must be >= 1, got ${opts.rounds}`)
  const log = opts.log ?? (() => {})
  const label = opts.label === undefined ? '' : `${opts.label}: `
  if (opts.warmup !== undefined) {
    log(`${label}warm-up`)
    await opts.warmup.ours()
    await opts.warmup.anchor()
  }
  const out: Alternated<T> = { ours: [], anchor: [] }
  for (let r = 0; r < opts.rounds; r++) {
    for (const side of orderOf(r)) {
      const t0 = performance.now()
      out[side].push(await opts[side](r))
      log(`${label}round ${r + 1}/${opts.rounds} ${side} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    }
  }
  return out
}

/** Rejects with a clear message when `promise` does not settle within `ms`; the timer never outlives it. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Runs `task` for indices 0..count-1 with at most `concurrency` in flight; resolves when all finished. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
