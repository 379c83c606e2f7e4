import fc from 'fast-check'
import { beforeEach, expect } from 'vitest'

/**
 * Shared settings of the property-based decoder tests.
 *
 * FUZZ_RUNS sets the number of generated cases of every property: the default
 * keeps `npm test` quick, `npm run fuzz` sets it to 10,000. FUZZ_SEED replays
 * a failing run (fast-check prints the seed and path of a counterexample).
 */

/** Cases per property in a plain `npm test` run. */
export const DEFAULT_FUZZ_RUNS = 200

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return n
}

export const FUZZ_RUNS = positiveInt('FUZZ_RUNS', process.env.FUZZ_RUNS) ?? DEFAULT_FUZZ_RUNS
const FUZZ_SEED = positiveInt('FUZZ_SEED', process.env.FUZZ_SEED)

declare module 'vitest' {
  interface TaskMeta {
    /** Cases per property of the run that produced a result (scripts/reliability-report.ts reads it). */
    fuzz?: { runs: number; seed?: number }
  }
}

// Every fuzz file imports this module: its results then say how many cases per property they ran.
beforeEach(({ task }) => {
  task.meta.fuzz = FUZZ_SEED === undefined ? { runs: FUZZ_RUNS } : { runs: FUZZ_RUNS, seed: FUZZ_SEED }
})

/** fast-check parameters: FUZZ_RUNS cases (times `scale`, for properties that are each one case of a decoder). */
export function fuzzParams<T>(scale = 1): fc.Parameters<T> {
  const params: fc.Parameters<T> = { numRuns: Math.max(1, Math.ceil(FUZZ_RUNS * scale)) }
  if (FUZZ_SEED !== undefined) params.seed = FUZZ_SEED
  return params
}

/** Head room over the measured cost per case: CI machines are shared and slower than a workstation. */
const TIMEOUT_SAFETY_FACTOR = 4

/**
 * Vitest timeout of a property: the suite default covers the quick run; a long
 * run gets `msPerRun` per case on top (a generous bound that only a hang
 * reaches — timings are never asserted).
 */
export function fuzzTimeout(msPerRun: number): number {
  return Math.max(60_000, Math.ceil(FUZZ_RUNS * msPerRun * TIMEOUT_SAFETY_FACTOR))
}

type ErrorClass = abstract new (...args: never[]) => Error

/** An error class plus the codes its instances may carry here (any string code when omitted). */
export interface TypedErrorSpec {
  type: ErrorClass
  codes?: readonly string[]
}

/** Asserts `err` is an instance of `spec.type` with a string `code` (one of `spec.codes` when given). */
export function expectTyped(err: unknown, spec: TypedErrorSpec): void {
  if (!(err instanceof spec.type)) {
    const what = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)
    throw new Error(`expected ${spec.type.name}, got ${what}`, { cause: err })
  }
  const code = (err as { code?: unknown }).code
  expect(typeof code, `${spec.type.name} without a string code`).toBe('string')
  if (spec.codes !== undefined) expect(spec.codes).toContain(code)
}

/**
 * Runs `fn`; returns its result, or undefined when it threw an error of the
 * expected type. Anything else thrown fails the property.
 */
export function onlyTyped<T>(spec: TypedErrorSpec, fn: () => T): T | undefined {
  try {
    return fn()
  } catch (err) {
    expectTyped(err, spec)
    return undefined
  }
}

/** Async form of `onlyTyped`. */
export async function onlyTypedAsync<T>(spec: TypedErrorSpec, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (err) {
    expectTyped(err, spec)
    return undefined
  }
}

/** Splits `bytes` at the given cut points (taken modulo the length): any chunking a socket could deliver. */
export function chunksOf(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return []
  const points = [...new Set(cuts.map((c) => c % bytes.length).filter((c) => c > 0))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let start = 0
  for (const p of points) {
    out.push(bytes.subarray(start, p))
    start = p
  }
  out.push(bytes.subarray(start))
  return out
}

/** Arbitrary cut points for `chunksOf`. */
export const cutsArb = fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 8 })

/** `bytes` with one bit flipped at `position` (modulo the bit length); a fresh copy. */
export function flipBit(bytes: Uint8Array, position: number): Uint8Array {
  const out = Uint8Array.from(bytes)
  const bit = position % (bytes.length * 8)
  out[bit >> 3] ^= 1 << (bit & 7)
  return out
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts))
}
