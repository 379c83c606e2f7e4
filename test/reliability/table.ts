import { describe, expect, it } from 'vitest'

/**
 * The bad-input table: every malformed input or injected fault is declared as
 * one case `{ layer, case, expected }` and becomes one `it()`. The declaration
 * travels with the test result as vitest task metadata, so
 * `scripts/reliability-report.ts` rebuilds docs/RELIABILITY.md from a vitest
 * JSON report alone:
 *
 *   npx vitest run test/reliability --reporter=json --outputFile=reports/reliability.json
 *   npx tsx scripts/reliability-report.ts reports/reliability.json docs/RELIABILITY.md
 */

/** Where the bad input enters (or where the fault is injected). */
export type Layer = 'tcp' | 'codec' | 'ecies' | 'rlpx' | 'multistream' | 'mplex' | 'stack' | 'eth' | 'node' | 'sync' | 'storage' | 'rpc' | 'faults'

/** What the JSON report carries per case (see `TaskMeta` below). */
export interface ReliabilityCaseMeta {
  layer: Layer
  case: string
  expected: string
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: ReliabilityCaseMeta
  }
}

export interface BadInputCase {
  /** The input or fault, in a few words ("protocol id of 1025 bytes"). */
  case: string
  /** The asserted outcome, naming the typed error and what ends ("MssProtocolIdTooLongError (ERR_MSS_PROTOCOL_ID_TOO_LONG), stream destroyed"). */
  expected: string
  run: () => unknown | Promise<unknown>
  /** Vitest timeout of this case, when it needs more than the suite default. */
  timeoutMs?: number
}

/** Declares one case as an `it()` whose metadata names its layer, input and expectation. */
export function badInput(layer: Layer, c: BadInputCase): void {
  const meta: ReliabilityCaseMeta = { layer, case: c.case, expected: c.expected }
  it(`${c.case} → ${c.expected}`, { meta: { reliability: meta }, timeout: c.timeoutMs }, async () => {
    await c.run()
  })
}

/** Declares a block of cases of one layer. */
export function badInputTable(layer: Layer, title: string, cases: readonly BadInputCase[]): void {
  describe(`${layer}: ${title}`, () => {
    for (const c of cases) badInput(layer, c)
  })
}

type ErrorClass = abstract new (...args: never[]) => Error

/** Asserts `err` is a `type` with exactly `code`; returns it typed. */
export function expectTypedError<E extends Error>(err: unknown, type: abstract new (...args: never[]) => E, code: string): E {
  expect(err, `expected ${type.name} (${code})`).toBeInstanceOf(type)
  expect((err as { code?: unknown }).code).toBe(code)
  return err as E
}

/** Runs `fn`, which must throw a `type` with `code`; returns the error. */
export function expectThrowsTyped<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E, code: string): E {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  if (thrown === undefined) throw new Error(`expected ${type.name} (${code}), nothing was thrown`)
  return expectTypedError(thrown, type, code)
}

/** Awaits `p`, which must reject with a `type` with `code`; returns the error. */
export async function expectRejectsTyped<E extends Error>(p: Promise<unknown>, type: abstract new (...args: never[]) => E, code: string): Promise<E> {
  let thrown: unknown
  let resolved = false
  try {
    await p
    resolved = true
  } catch (err) {
    thrown = err
  }
  if (resolved) throw new Error(`expected ${type.name} (${code}), the promise resolved`)
  return expectTypedError(thrown, type, code)
}

/** Asserts `err` is an instance of one of `types` and carries a string code. */
export function expectOneOf(err: unknown, types: readonly ErrorClass[]): void {
  expect(types.some((t) => err instanceof t), `unexpected error ${String(err)}`).toBe(true)
  expect(typeof (err as { code?: unknown }).code).toBe('string')
}
