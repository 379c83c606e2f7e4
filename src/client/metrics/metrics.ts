import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

import { messageName } from '../net/protocol/ethmessages'
import { MAX_SCORE, MIN_SCORE } from '../net/reputation'
import { Event, type EventListener, type SyncStatusSource } from '../types'

import { PeerTraffic, banCategory, connectionSnapshot } from './sources'

import type { EthereumClient } from '../client'
import type { MessageTally } from './tally'

/** Latency buckets of eth requests (seconds): loopback answers in ~1 ms, a distant peer in 100s of ms, a timeout at 8 s. */
export const REQUEST_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** From the connection being upgraded to the peer being announced (eth stream + Status). */
export const HANDSHAKE_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Peer score buckets over the reputation range (thresholds -50 and -20 are bucket edges). */
export const SCORE_BUCKETS = [MIN_SCORE, -50, -20, -10, -5, 0, 5, 10, MAX_SCORE]
/** Handshakes timed at once (connections upgraded, not yet announced); more are not timed. */
export const MAX_TIMED_HANDSHAKES = 1024

export interface NodeMetricsOptions {
  client: EthereumClient
  /** The client's message tally (config.tally). */
  tally: MessageTally
  /** Where the sync height and target come from; undefined: the node does not sync. */
  sync?: () => SyncStatusSource | undefined
}

/**
 * The node's Prometheus metrics (names in the README's "Metrics" table).
 * Three ways in, cheapest first: values the stack already keeps (peers,
 * socket byte counters, queues, head, pool size) are read when scraped, by
 * each metric's collect(); per-message counts come from the MessageTally,
 * which only adds to typed arrays on the message path; rarer events (bans,
 * errors, discovery, reputation changes) are counted from the client's bus.
 * Labels are bounded: directions, transports, protocol ids, eth versions and
 * message names, error codes, ban categories; never peer ids.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  private readonly client: EthereumClient
  private readonly tally: MessageTally
  private readonly traffic = new PeerTraffic()
  private readonly detachers: (() => void)[] = []
  private readonly handshakeStarts = new Map<string, number>()
  private readonly requestDuration: Histogram<'message'>
  private readonly handshakeDuration: Histogram
  private readonly handshakeErrors: Counter<'reason'>
  private readonly bans: Counter<'reason'>
  private readonly discovered: Counter
  /** Reputation changes by event: one per request of ours, so tallied here and published when scraped. */
  private readonly reputationCounts = new Map<string, number>()
  /** p2p_dials_total{result="success"} is derived; it never goes down even while counters settle. */
  private dialSuccesses = 0

  constructor(opts: NodeMetricsOptions) {
    this.client = opts.client
    this.tally = opts.tally
    const registers = [this.registry]
    const sync = opts.sync ?? (() => undefined)
    const self = this

    new Gauge({
      name: 'p2p_peers', help: 'Peers past the Status handshake, in the pool', labelNames: ['direction', 'transport'], registers,
      collect() {
        // Every combination is exported, 0 included: a dashboard should show "no inbound peers", not a gap.
        for (const direction of ['inbound', 'outbound']) for (const transport of ['rlpx', 'p2p']) this.set({ direction, transport }, 0)
        for (const p of self.client.service.pool.peers) this.inc({ direction: p.inbound ? 'inbound' : 'outbound', transport: p.transport })
      },
    })
    for (const [name, field, what] of [
      ['p2p_ingress_bytes_total', 'bytesIn', 'received from'],
      ['p2p_egress_bytes_total', 'bytesOut', 'sent to'],
    ] as const) {
      new Counter({
        name, help: `Bytes ${what} pooled peers (socket bytes: encryption and framing included)`, registers,
        collect() {
          this.reset()
          this.inc(self.traffic.totals(self.client.service.pool.peers)[field])
        },
      })
    }
    new Gauge({
      name: 'p2p_connections', help: 'Live connections by multiplexer (handshaking ones included on the P2P stack)', labelNames: ['multiplexer'], registers,
      collect() {
        this.reset()
        for (const [multiplexer, n] of connectionSnapshot(self.client.server).connections) this.set({ multiplexer }, n)
      },
    })
    new Gauge({
      name: 'p2p_streams', help: 'Open streams by multiplexer and negotiated protocol', labelNames: ['multiplexer', 'protocol'], registers,
      collect() {
        this.reset()
        for (const s of connectionSnapshot(self.client.server).streams) this.set({ multiplexer: s.multiplexer, protocol: s.protocol }, s.count)
      },
    })
    new Gauge({
      name: 'p2p_muxer_buffered_bytes', help: 'Bytes held by stream buffers: inbound unread, outbound not yet written', labelNames: ['direction'], registers,
      collect() {
        const b = connectionSnapshot(self.client.server).buffered
        this.set({ direction: 'inbound' }, b.inbound)
        this.set({ direction: 'outbound' }, b.outbound)
      },
    })
    new Counter({
      name: 'p2p_dials_total', help: 'Outbound dials by result (success: reached the transport handshake\'s end)', labelNames: ['result'], registers,
      collect() {
        const server = self.client.server
        const failures = server.stats.dialFailures
        self.dialSuccesses = Math.max(self.dialSuccesses, server.dialAttempts - failures - server.dialQueue.inProgress)
        this.reset()
        this.inc({ result: 'success' }, self.dialSuccesses)
        this.inc({ result: 'failure' }, failures)
      },
    })
    new Gauge({
      name: 'p2p_dial_queue', help: 'Nodes waiting for a free slot (queued) and dials in progress', labelNames: ['state'], registers,
      collect() {
        const q = self.client.server.dialQueue
        this.set({ state: 'queued' }, q.queued)
        this.set({ state: 'in_progress' }, q.inProgress)
      },
    })
    this.handshakeErrors = new Counter({ name: 'p2p_handshake_errors_total', help: 'Sessions that failed before joining the pool, by error code', labelNames: ['reason'], registers })
    this.bans = new Counter({ name: 'p2p_bans_total', help: 'Peers banned, by reason category', labelNames: ['reason'], registers })
    this.discovered = new Counter({ name: 'p2p_discovered_total', help: 'Nodes reported by discovery', registers })
    this.handshakeDuration = new Histogram({
      name: 'p2p_handshake_duration_seconds', help: 'From a connection being upgraded (ECIES + muxer done) to its peer joining (eth stream + Status)', buckets: HANDSHAKE_DURATION_BUCKETS, registers,
    })
    new Counter({
      name: 'p2p_reputation_events_total', help: 'Score changes by reputation event', labelNames: ['event'], registers,
      collect() {
        this.reset()
        for (const [event, n] of self.reputationCounts) this.inc({ event }, n)
      },
    })
    new Histogram({
      name: 'p2p_peer_score', help: 'Distribution of the pooled peers\' reputation scores at scrape time', buckets: SCORE_BUCKETS, registers,
      collect() {
        this.reset()
        this.zero({})
        for (const p of self.client.service.pool.peers) this.observe(p.score)
      },
    })

    for (const [name, field, help] of [
      ['eth_messages_total', 'messages', 'eth messages by direction, version and message'],
      ['eth_message_bytes_total', 'bytes', 'eth message bytes (code + RLP payload) by direction, version and message; the legacy devp2p path reports none'],
    ] as const) {
      new Counter({
        name, help, labelNames: ['direction', 'version', 'message'], registers,
        collect() {
          this.reset()
          for (const c of self.tally.messageCounts()) {
            forEachCode(c[field], (code, n) => this.inc({ direction: c.direction, version: String(c.version), message: nameOf(code, c.version) }, n))
          }
        },
      })
    }
    this.requestDuration = new Histogram({
      name: 'eth_request_duration_seconds', help: 'Time until a request of ours was answered, by request message', labelNames: ['message'], buckets: REQUEST_DURATION_BUCKETS, registers,
      collect() {
        self.observeLatencies()
      },
    })
    new Counter({
      name: 'eth_requests_total', help: 'Requests of ours by message and outcome (answered, timeout, invalid, cancelled)', labelNames: ['message', 'outcome'], registers,
      collect() {
        this.reset()
        for (const r of self.tally.requestOutcomes()) this.inc({ message: r.name, outcome: r.outcome }, r.count)
      },
    })
    new Gauge({
      name: 'eth_serve_queue', help: 'Peers\' requests being served (running) and waiting their turn (waiting)', labelNames: ['state'], registers,
      collect() {
        const load = self.client.service.serveLoad
        this.set({ state: 'running' }, load.running)
        this.set({ state: 'waiting' }, load.waiting)
      },
    })

    new Gauge({
      name: 'chain_head_block', help: 'Number of the head block', registers,
      collect() {
        this.set(Number(self.client.chain.headers.height))
      },
    })
    new Gauge({
      name: 'sync_syncing', help: '1 while the node syncs towards a better head, else 0', registers,
      collect() {
        this.set((sync()?.syncing() ?? false) === false ? 0 : 1)
      },
    })
    new Gauge({
      name: 'sync_target_block', help: 'Highest block the node syncs towards (its head when not syncing)', registers,
      collect() {
        const status = sync()?.syncing()
        this.set(Number(status === undefined || status === false ? self.client.chain.headers.height : status.highestBlock))
      },
    })
    new Gauge({
      name: 'txpool_transactions', help: 'Transactions in the pool', registers,
      collect() {
        this.set(self.client.service.txPool.size)
      },
    })
    this.tally.onSamplesFull = () => this.observeLatencies()
  }

  /** Subscribes to the bus. Idempotent. */
  attach(): void {
    if (this.detachers.length > 0) return
    const bus = this.client.config.events
    const on = <E extends Event>(event: E, listener: EventListener<E>): void => {
      bus.on(event, listener)
      this.detachers.push(() => bus.off(event, listener))
    }
    on(Event.POOL_PEER_REMOVED, (peer) => this.traffic.retire(peer))
    on(Event.POOL_PEER_BANNED, (_peer, reason) => this.bans.inc({ reason: banCategory(reason) }))
    on(Event.PEER_DISCOVERED, () => this.discovered.inc())
    on(Event.PEER_REPUTATION, (_peer, change) => this.reputationCounts.set(change.event, (this.reputationCounts.get(change.event) ?? 0) + 1))
    on(Event.PEER_ERROR, (err, peer) => {
      if (this.client.service.pool.contains(peer.id)) return
      const code = (err as { code?: unknown }).code
      this.handshakeErrors.inc({ reason: typeof code === 'string' ? code : err.name })
    })
    on(Event.CONNECTION_OPENED, (conn) => {
      if (this.handshakeStarts.size < MAX_TIMED_HANDSHAKES) this.handshakeStarts.set(conn.peerId, performance.now())
    })
    on(Event.CONNECTION_CLOSED, (conn) => this.handshakeStarts.delete(conn.peerId))
    on(Event.PEER_CONNECTED, (peer) => {
      const started = this.handshakeStarts.get(peer.id)
      if (started === undefined) return
      this.handshakeStarts.delete(peer.id)
      this.handshakeDuration.observe((performance.now() - started) / 1000)
    })
  }

  /** Removes every bus listener attach() added. Idempotent. */
  detach(): void {
    for (const d of this.detachers.splice(0)) d()
    this.handshakeStarts.clear()
  }

  private observeLatencies(): void {
    for (const s of this.tally.takeSamples()) this.requestDuration.observe({ message: s.name }, s.seconds)
  }
}

let processRegistry: Registry | undefined

/**
 * prom-client's gauges that end in `_total`, which the Prometheus naming rules reserve for
 * counters (`promtool check metrics` rejects them). The same counts stay exported per type
 * as nodejs_active_handles / _requests / _resources.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/**
 * The runtime's default process metrics (CPU, memory, event loop lag, GC), in one registry per
 * process: several nodes in one process (tests, the network script) share one set of probes.
 */
export function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    for (const name of MISNAMED_DEFAULT_METRICS) processRegistry.removeSingleMetric(name)
  }
  return processRegistry
}

function forEachCode(values: Float64Array, fn: (code: number, n: number) => void): void {
  for (let code = 0; code < values.length; code++) if (values[code]! > 0) fn(code, values[code]!)
}

function nameOf(code: number, version: number): string {
  return messageName(code, version) ?? `unknown_0x${code.toString(16).padStart(2, '0')}`
}
