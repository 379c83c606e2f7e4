import type { BenchReport } from './report'

export interface BenchContext {
  /** Small sizes, a few seconds per bench: the CI mode that keeps benches from rotting. */
  quick: boolean
  /** Overrides the bench's own round count. */
  rounds?: number
  /** Progress and diagnostics, to stderr. */
  log: (msg: string) => void
}

export interface Bench {
  name: string
  /** One line for `--list` and RESULTS.md. */
  description: string
  run(ctx: BenchContext): Promise<BenchReport>
}

/** Settles per-key waits: one side registers interest, the other side's event settles it. */
export class Waiters<T = void> {
  private readonly pending = new Map<string, { resolve: (v: T) => void; reject: (e: unknown) => void }>()
  private readonly early = new Map<string, { ok: boolean; value: unknown }>()

  wait(key: string): Promise<T> {
    const done = this.early.get(key)
    if (done !== undefined) {
      this.early.delete(key)
      return done.ok ? Promise.resolve(done.value as T) : Promise.reject(done.value)
    }
    return new Promise((resolve, reject) => this.pending.set(key, { resolve, reject }))
  }

  resolve(key: string, value: T): void {
    const w = this.pending.get(key)
    if (w === undefined) this.early.set(key, { ok: true, value })
    else {
      this.pending.delete(key)
      w.resolve(value)
    }
  }

  reject(key: string, err: unknown): void {
    const w = this.pending.get(key)
    if (w === undefined) this.early.set(key, { ok: false, value: err })
    else {
      this.pending.delete(key)
      w.reject(err)
    }
  }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Resolves `rounds` from the context, or the bench's default for the mode. */
export function roundsFor(ctx: BenchContext, full: number, quick: number): number {
  return ctx.rounds ?? (ctx.quick ? quick : full)
}
