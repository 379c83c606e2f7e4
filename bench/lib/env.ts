import os from 'node:os'

/** Where a run happened: printed at the start of every run and copied into RESULTS.md. */
export interface RunEnv {
  runtime: string
  nproc: number
  cpu: string
  memoryGiB: number
  platform: string
  /** 1/5/15-minute load averages when the run started: figures taken under load are noisy. */
  loadavg: number[]
  date: string
}

/** 'bun 1.x.y' under Bun, 'node vX.Y.Z' under Node (tsx). */
export function runtimeName(): string {
  const bun = (process.versions as Record<string, string | undefined>).bun
  return bun === undefined ? `node ${process.version}` : `bun ${bun}`
}

export function isBun(): boolean {
  return (process.versions as Record<string, string | undefined>).bun !== undefined
}

export function runEnv(): RunEnv {
  const cpus = os.cpus()
  const nproc = typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length
  return {
    runtime: runtimeName(),
    nproc,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  }
}

/** Full garbage collection where the runtime exposes one (node --expose-gc, Bun.gc); false when unavailable. */
export function fullGc(): boolean {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } }
  if (g.Bun !== undefined) {
    g.Bun.gc(true)
    return true
  }
  if (typeof g.gc === 'function') {
    g.gc()
    return true
  }
  return false
}
