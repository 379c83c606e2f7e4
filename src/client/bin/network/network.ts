import { buildTestChain } from '../../testing/testchain'
import { describeError } from '../../errors'

import { nodePort, usesP2PServer } from './args'
import { NetworkScriptError } from './errors'
import { NodeNames, logNodeEvents } from './eventlog'
import { formatDuration } from './format'
import { TestNode } from './node'
import { NodeStats } from './stats'
import { withTimeout } from './waits'

import type { NetworkOptions } from './args'
import type { NetworkLogger } from './logger'

/** Label of log lines about the network as a whole. */
export const NETWORK_LABEL = 'net'

export interface StopReport {
  /** Nodes whose stop() did not finish in time or threw, with the reason. */
  failures: string[]
  /** Bus listeners left on each node after stop (ours removed first): anything here leaked. */
  leftoverListeners: Map<string, number>
}

/**
 * The nodes of one run with their observers (event log, statistics). The
 * bootnode is started first; every other node bootstraps from its enode URL.
 */
export class LocalNetwork {
  readonly nodes: TestNode[] = []
  readonly stats: NodeStats[] = []
  readonly names = new NodeNames()
  private readonly detachers: (() => void)[] = []

  constructor(
    private readonly options: NetworkOptions,
    private readonly log: NetworkLogger,
  ) {}

  get bootnode(): TestNode {
    const boot = this.nodes[0]
    if (boot === undefined) throw new NetworkScriptError('ERR_NETWORK_STATE', 'the network has no nodes')
    return boot
  }

  get others(): TestNode[] {
    return this.nodes.slice(1)
  }

  /** Creates node i (observers attached before it starts, so no event is missed). */
  private async createNode(index: number, bootnodes: string[]): Promise<TestNode> {
    const o = this.options
    const node = await TestNode.create({
      index,
      port: nodePort(o.basePort, index),
      discPort: nodePort(o.discBasePort, index),
      bootnodes,
      useP2PServer: usesP2PServer(o, index),
      maxPeers: o.maxPeers,
      discoveryRefreshMs: o.discoveryRefreshMs,
      ethVersions: o.ethVersions,
      metrics: o.metrics,
      batch: o.batch,
      // Only node 1 produces: the network has one chain, the others follow it.
      devPeriod: index === 0 ? o.devPeriodMs / 1000 : 0,
    })
    this.nodes.push(node)
    this.names.add(node.id, node.label)
    const stats = new NodeStats(node)
    stats.attach()
    this.stats.push(stats)
    this.detachers.push(() => stats.detach(), logNodeEvents(node, this.log, this.names))
    return node
  }

  /** Builds the bootnode's chain and starts it; resolves with its enode URL. */
  async startBootnode(signal?: AbortSignal): Promise<string> {
    const o = this.options
    const boot = await this.createNode(0, [])
    const started = Date.now()
    const chain = await buildTestChain({ common: boot.config.common, blocks: o.blocks, txsPerBlock: o.txsPerBlock })
    await boot.seed(chain)
    const txs = chain.blocks.reduce((n, b) => n + b.transactions.length, 0)
    this.log.log(boot.label, 'setup', `built ${o.blocks} blocks with ${txs} transactions in ${formatDuration(Date.now() - started)}, head #${boot.head.height}`)
    return boot.start({ timeoutMs: o.timeoutMs, signal })
  }

  /** Creates and starts nodes 2..N (in parallel), each bootstrapping from `bootUrl`. */
  async startOthers(bootUrl: string, signal?: AbortSignal): Promise<PromiseSettledResult<string>[]> {
    const nodes: TestNode[] = []
    for (let i = 1; i < this.options.nodes; i++) nodes.push(await this.createNode(i, [bootUrl]))
    return Promise.allSettled(nodes.map((n) => n.start({ timeoutMs: this.options.timeoutMs, signal })))
  }

  /**
   * Stops every client in parallel, each within the timeout, then removes
   * our observers and counts what listeners the client left on its bus.
   */
  async stop(): Promise<StopReport> {
    const failures: string[] = []
    await Promise.all(
      this.nodes.map(async (node) => {
        try {
          await withTimeout(node.stop(), { what: `${node.label} to stop`, timeoutMs: this.options.timeoutMs })
          if (node.client.state !== 'stopped') failures.push(`${node.label} ended in state ${node.client.state}`)
          else this.log.log(node.label, 'shutdown', 'stopped')
        } catch (err) {
          failures.push(`${node.label}: ${describeError(err)}`)
          this.log.log(node.label, 'error', `stop failed: ${describeError(err)}`)
        }
      }),
    )
    for (const d of this.detachers.splice(0)) d()
    const leftoverListeners = new Map<string, number>()
    for (const node of this.nodes) {
      const n = node.config.events.totalListenerCount()
      if (n > 0) leftoverListeners.set(node.label, n)
    }
    return { failures, leftoverListeners }
  }
}
