import { ServiceError } from '../errors'

export interface ServeQueueOptions {
  /** Most requests served at the same moment, across all peers (at least 1). */
  concurrency: number
  /** Most requests of one peer waiting to be served; one more is a flood (at least 1). */
  maxQueuedPerPeer: number
}

/** A peer sent requests faster than it waits for the answers: more than `maxQueuedPerPeer` were waiting. */
export class RequestFloodError extends ServiceError {
  readonly queued: number
  constructor(queued: number, limit: number) {
    super('ERR_SERVICE_REQUEST_FLOOD', `request flood: ${queued} requests already waiting to be served, the limit is ${limit}`)
    this.queued = queued
  }
}

interface Job {
  run: () => Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Serves peers' requests fairly. Each peer's requests run one at a time, in
 * the order they came (as geth serves a peer from one goroutine), and peers
 * with work waiting take turns for the `concurrency` serving slots. So a peer
 * that sends hundreds of expensive requests at once occupies one slot, and
 * another peer's request waits for at most one request of each busy peer,
 * not for the whole burst. A peer's queue is bounded: past `maxQueuedPerPeer`
 * waiting requests its next one is refused with a RequestFloodError (the
 * service bans it), so a flood costs bounded memory.
 *
 * `K` identifies a session (the Peer object): a new session of the same node
 * gets its own queue.
 */
export class ServeQueue<K extends object> {
  private readonly concurrency: number
  private readonly maxQueuedPerPeer: number
  private readonly waiting = new Map<K, Job[]>()
  /** Peers with a request being served (at most one each). */
  private readonly serving = new Set<K>()
  /** Peers whose turn is next: work waiting and nothing being served; each at most once. */
  private readonly turns: K[] = []
  /** Sessions dropped: their later requests are not served (see drop). */
  private readonly dropped = new WeakSet<K>()
  private active = 0
  private nextTurn?: ReturnType<typeof setImmediate>

  constructor(opts: ServeQueueOptions) {
    if (!(opts.concurrency >= 1) || !(opts.maxQueuedPerPeer >= 1)) {
      throw new ServiceError('ERR_SERVICE_OPTIONS', `ServeQueue needs concurrency and maxQueuedPerPeer of at least 1, got ${opts.concurrency} and ${opts.maxQueuedPerPeer}`)
    }
    this.concurrency = opts.concurrency
    this.maxQueuedPerPeer = opts.maxQueuedPerPeer
  }

  /** Requests being served right now, across all peers. */
  get running(): number {
    return this.active
  }

  /** Requests waiting for their turn, across all peers (metrics read it when scraped). */
  get waitingTotal(): number {
    let n = 0
    for (const queue of this.waiting.values()) n += queue.length
    return n
  }

  /** Requests of `key` waiting for their turn (the one being served not counted). */
  queued(key: K): number {
    return this.waiting.get(key)?.length ?? 0
  }

  /**
   * Runs `serve` in `key`'s turn; resolves or rejects as it does. Rejects at
   * once with RequestFloodError when `key` already has `maxQueuedPerPeer`
   * requests waiting.
   */
  run(key: K, serve: () => Promise<void>): Promise<void> {
    if (this.dropped.has(key)) return Promise.resolve()
    const queue = this.waiting.get(key) ?? []
    if (queue.length >= this.maxQueuedPerPeer) return Promise.reject(new RequestFloodError(queue.length, this.maxQueuedPerPeer))
    return new Promise<void>((resolve, reject) => {
      queue.push({ run: serve, resolve, reject })
      if (queue.length === 1) {
        this.waiting.set(key, queue)
        if (!this.serving.has(key)) this.turns.push(key)
      }
      this.pump()
    })
  }

  /**
   * Ends `key`'s service (its session ended, or it was banned): the requests
   * that have not started, and any it sends later, resolve without running.
   * Returns how many were waiting. A request being served finishes on its own.
   */
  drop(key: K): number {
    this.dropped.add(key)
    return this.cancelWaiting(key)
  }

  /**
   * Resolves every peer's waiting requests without running them (the service
   * stops); unlike drop(), the peers' later requests are served as usual.
   */
  clear(): void {
    for (const key of [...this.waiting.keys()]) this.cancelWaiting(key)
    if (this.nextTurn !== undefined) clearImmediate(this.nextTurn)
    this.nextTurn = undefined
  }

  private cancelWaiting(key: K): number {
    const queue = this.waiting.get(key)
    if (queue === undefined) return 0
    this.waiting.delete(key)
    const at = this.turns.indexOf(key)
    if (at >= 0) this.turns.splice(at, 1)
    for (const job of queue) job.resolve()
    return queue.length
  }

  private pump(): void {
    while (this.active < this.concurrency && this.turns.length > 0) {
      const key = this.turns.shift()!
      const queue = this.waiting.get(key)!
      const job = queue.shift()!
      if (queue.length === 0) this.waiting.delete(key)
      this.start(key, job)
    }
  }

  /**
   * Starts the next requests from the event loop, not from this microtask.
   * An in-memory chain answers in promise reactions alone, so serving one
   * request after another here would never return to the loop: the sockets
   * would not be read, and another peer's request would not even arrive
   * until the whole burst was served.
   */
  private pumpNextTurn(): void {
    if (this.nextTurn !== undefined || this.turns.length === 0) return
    this.nextTurn = setImmediate(() => {
      this.nextTurn = undefined
      this.pump()
    })
  }

  private start(key: K, job: Job): void {
    this.active++
    this.serving.add(key)
    const done = (): void => {
      this.active--
      this.serving.delete(key)
      // The peer goes to the back of the line: everyone else waiting is served first.
      if (this.waiting.has(key)) this.turns.push(key)
      this.pumpNextTurn()
    }
    let served: Promise<void>
    try {
      served = job.run()
    } catch (err) {
      served = Promise.reject(err)
    }
    served.then(
      () => {
        done()
        job.resolve()
      },
      (err: unknown) => {
        done()
        job.reject(err)
      },
    )
  }
}
