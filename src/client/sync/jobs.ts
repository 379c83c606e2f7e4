/**
 * The work of one sync round as jobs handed to peers: the skeleton (sparse headers from the
 * peer whose head is the target), header segments between skeleton headers, and batches of
 * bodies and receipts. The queue hands out the lowest-numbered job a peer may take (so the
 * import point fills first), takes back the jobs of a peer that failed, and never has one job
 * at two peers at once.
 */

/** Every span-th header from `first` (GetBlockHeaders with skip = span - 1), from the master only. */
export interface SkeletonJob {
  kind: 'skeleton'
  first: bigint
  count: number
  span: bigint
}

/** `count` headers from `first`, which must hang off `parentHash` and, when known, end at `endHash`. */
export interface HeaderJob {
  kind: 'headers'
  first: bigint
  count: number
  parentHash: Uint8Array
  endHash?: Uint8Array
}

/** Bodies or receipts of these blocks (ascending, not necessarily consecutive: empty ones need no fetching). */
export interface ItemJob {
  kind: 'bodies' | 'receipts'
  numbers: bigint[]
}

export type JobSpec = SkeletonJob | HeaderJob | ItemJob

export interface Job {
  readonly id: number
  readonly spec: JobSpec
  /** Lowest block number the job covers: its place in the queue. */
  readonly lowest: bigint
  /** Highest block number: a peer must claim a head at least this high to take it. */
  readonly highest: bigint
  /** Id of the peer working on it. */
  peer?: string
  /** Peers whose answer put them off the synced chain for this job (see HeaderJob). */
  readonly disagreed: Set<string>
}

/** Ties between jobs at the same height: headers before the bodies and receipts that need them. */
const KIND_ORDER: Record<JobSpec['kind'], number> = { skeleton: 0, headers: 1, bodies: 2, receipts: 3 }

export function jobRange(spec: JobSpec): { lowest: bigint; highest: bigint } {
  switch (spec.kind) {
    case 'skeleton':
      return { lowest: spec.first, highest: spec.first + spec.span * BigInt(spec.count - 1) }
    case 'headers':
      return { lowest: spec.first, highest: spec.first + BigInt(spec.count - 1) }
    default:
      return { lowest: spec.numbers[0]!, highest: spec.numbers[spec.numbers.length - 1]! }
  }
}

export class JobQueue {
  private readonly jobs = new Map<number, Job>()
  private nextId = 0

  /** Jobs not finished (waiting or assigned). */
  get size(): number {
    return this.jobs.size
  }

  /** Jobs a peer is working on. */
  get assigned(): number {
    let n = 0
    for (const j of this.jobs.values()) if (j.peer !== undefined) n++
    return n
  }

  add(spec: JobSpec): Job {
    const job: Job = { id: this.nextId++, spec, ...jobRange(spec), disagreed: new Set() }
    this.jobs.set(job.id, job)
    return job
  }

  /**
   * Assigns to `peerId` the waiting job with the lowest number below `before` that `eligible`
   * accepts, and returns it; undefined when there is none.
   */
  take(peerId: string, eligible: (job: Job) => boolean, before: bigint): Job | undefined {
    let best: Job | undefined
    for (const job of this.jobs.values()) {
      if (job.peer !== undefined || job.lowest >= before || job.disagreed.has(peerId) || !eligible(job)) continue
      if (best === undefined || job.lowest < best.lowest || (job.lowest === best.lowest && KIND_ORDER[job.spec.kind] < KIND_ORDER[best.spec.kind])) best = job
    }
    if (best !== undefined) best.peer = peerId
    return best
  }

  /** Whether `job` is still the one handed to `peerId` (not finished, not taken back). */
  holds(job: Job, peerId: string): boolean {
    return this.jobs.get(job.id) === job && job.peer === peerId
  }

  /** Puts a job back for another peer. */
  release(job: Job): void {
    if (this.jobs.get(job.id) === job) job.peer = undefined
  }

  done(job: Job): void {
    this.jobs.delete(job.id)
  }

  /** Takes back every job of `peerId`; returns how many. */
  releasePeer(peerId: string): number {
    let n = 0
    for (const job of this.jobs.values()) {
      if (job.peer !== peerId) continue
      job.peer = undefined
      n++
    }
    return n
  }

  /** Whether any waiting job lies below `before` (work a peer could take now). */
  hasWaiting(before: bigint): boolean {
    for (const job of this.jobs.values()) if (job.peer === undefined && job.lowest < before) return true
    return false
  }

  clear(): void {
    this.jobs.clear()
  }
}

/** Splits block numbers into ItemJobs of at most `batch` blocks each. */
export function itemJobs(kind: ItemJob['kind'], numbers: readonly bigint[], batch: number): ItemJob[] {
  const out: ItemJob[] = []
  for (let i = 0; i < numbers.length; i += batch) out.push({ kind, numbers: numbers.slice(i, i + batch) })
  return out
}
