import { createBlockFromBytesArray } from '@ethereumjs/block'
import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'

import { verifyBody, verifyReceipts } from '../../blockchain/verify'
import { Event } from '../../types'

import { InterruptedError, SyncError, errorMessage } from './errors'
import { formatDuration, shortHex } from './format'
import { busTrigger, waitForCondition } from './waits'

import type { Block, BlockBodyBytes, BlockBytes, BlockHeader } from '@ethereumjs/block'
import type { Peer } from '../../net/peer/peer'
import type { NodeNames } from './eventlog'
import type { NetworkLogger } from './logger'
import type { TestNode } from './node'

export interface SyncOptions {
  /** Items per request. */
  batch: number
  /** Bound on the wait for a peer that has blocks we lack. */
  timeoutMs: number
  signal?: AbortSignal
  log: NetworkLogger
  names: NodeNames
}

export interface SyncResult {
  target: { number: bigint; hash: string }
  headers: number
  bodies: number
  receipts: number
  requests: number
  /** Peers that served at least one request. */
  servedBy: string[]
}

interface Target {
  header: BlockHeader
  sources: Peer[]
}

/**
 * Header-first sync of `node` from its peers, over whatever transport the
 * node uses: find the best head among the peers (GetBlockHeaders by their
 * Status hash), fetch every header from our head to it (checking numbers
 * and parent links, and that the last one is the advertised head), then
 * every body (checked against the transactions/uncles/withdrawals roots)
 * and receipt list (receipts root, gas used, bloom), and import the blocks.
 * Requests rotate over the peers that have the head; a peer that fails a
 * request is dropped from the rotation and the request goes to the next.
 */
export class PeerSync {
  private readonly node: TestNode
  private readonly opts: SyncOptions
  private sources: Peer[] = []
  private next = 0
  private requests = 0
  private readonly servedBy = new Set<string>()

  constructor(node: TestNode, opts: SyncOptions) {
    this.node = node
    this.opts = opts
  }

  async run(): Promise<SyncResult> {
    const target = await this.findTarget()
    this.sources = target.sources
    const headers = await this.fetchHeaders(target.header)
    const bodies = await this.fetchItems('GetBlockBodies', headers, (peer, hashes) => eth(peer).getBlockBodies({ hashes }), verifyBody)
    const receipts = await this.fetchItems('GetReceipts', headers, (peer, hashes) => eth(peer).getReceipts({ hashes }), verifyReceipts)
    await this.importBlocks(headers, bodies, receipts)
    return {
      target: { number: target.header.number, hash: bytesToUnprefixedHex(target.header.hash()) },
      headers: headers.length,
      bodies: bodies.length,
      receipts: receipts.length,
      requests: this.requests,
      servedBy: [...this.servedBy],
    }
  }

  /** Asks each connected peer for its head header until one is above ours; waits for new peers meanwhile. */
  private async findTarget(): Promise<Target> {
    const probed = new Map<Peer, BlockHeader | undefined>()
    const pending = (): Peer[] => this.node.peers.filter((p) => p.eth !== undefined && !probed.has(p))
    for (;;) {
      for (const peer of pending()) probed.set(peer, await this.probe(peer))
      const best = bestOf(probed)
      if (best !== undefined && best.number > this.node.head.height) {
        const sources = [...probed].filter(([p, h]) => h !== undefined && equalsBytes(h.hash(), best.hash()) && p.eth?.closed === false)
        return { header: best, sources: sources.map(([p]) => p) }
      }
      await waitForCondition({
        what: `${this.node.label} to connect to a peer with blocks beyond #${this.node.head.height}`,
        timeoutMs: this.opts.timeoutMs,
        signal: this.opts.signal,
        condition: () => pending().length > 0,
        trigger: busTrigger([this.node.config.events], [Event.PEER_CONNECTED]),
      })
    }
  }

  private async probe(peer: Peer): Promise<BlockHeader | undefined> {
    try {
      return await this.request(peer, 'GetBlockHeaders', 'head', () => peer.latest(), (h) => (h === undefined ? 'unknown' : `#${h.number} ${shortHex(bytesToUnprefixedHex(h.hash()))}`))
    } catch (err) {
      if (err instanceof InterruptedError) throw err
      return undefined // logged by request(); this peer just is not a source
    }
  }

  private async fetchHeaders(target: BlockHeader): Promise<BlockHeader[]> {
    const headers: BlockHeader[] = []
    let parent = this.node.client.chain.headers.latest
    while (parent.number < target.number) {
      const from = parent.number + 1n
      const max = Number(minBig(BigInt(this.opts.batch), target.number - parent.number))
      const got = await this.withSource('GetBlockHeaders', `#${from}..#${from + BigInt(max) - 1n}`, (peer) =>
        eth(peer).getBlockHeaders({ block: from, max }), (h) => `${h.length} headers`, (h) => h.length > 0)
      for (const header of got.slice(0, max)) {
        if (header.number !== parent.number + 1n || !equalsBytes(header.parentHash, parent.hash())) {
          throw new SyncError(`${this.node.label}: header #${header.number} does not extend #${parent.number} ${shortHex(bytesToUnprefixedHex(parent.hash()))}`)
        }
        headers.push(header)
        parent = header
      }
    }
    if (!equalsBytes(parent.hash(), target.hash())) {
      throw new SyncError(`${this.node.label}: fetched chain ends at ${bytesToUnprefixedHex(parent.hash())}, not at the advertised head ${bytesToUnprefixedHex(target.hash())}`)
    }
    return headers
  }

  /** Bodies or receipts for `headers`, in batches; a short reply is continued from where it stopped. */
  private async fetchItems<T>(
    name: 'GetBlockBodies' | 'GetReceipts',
    headers: BlockHeader[],
    fetch: (peer: Peer, hashes: Uint8Array[]) => Promise<T[]>,
    verify: (header: BlockHeader, item: T) => void,
  ): Promise<T[]> {
    const items: T[] = []
    while (items.length < headers.length) {
      const batch = headers.slice(items.length, items.length + this.opts.batch)
      const range = `#${batch[0]!.number}..#${batch[batch.length - 1]!.number}`
      const got = await this.withSource(name, range, (peer) => fetch(peer, batch.map((h) => h.hash())), (r) => `${r.length} of ${batch.length}`, (r) => r.length > 0)
      for (const [i, item] of got.slice(0, batch.length).entries()) {
        try {
          verify(batch[i]!, item)
        } catch (err) {
          throw new SyncError(`${this.node.label}: ${name} reply failed verification: ${errorMessage(err)}`, { cause: err })
        }
        items.push(item)
      }
    }
    return items
  }

  private async importBlocks(headers: BlockHeader[], bodies: BlockBodyBytes[], receipts: Uint8Array[][]): Promise<void> {
    const common = this.node.config.common
    const blocks: Block[] = headers.map((h, i) => createBlockFromBytesArray([h.raw(), ...bodies[i]!] as BlockBytes, { common, setHardfork: true }))
    const started = Date.now()
    const added = await this.node.client.chain.putBlocks(blocks, receipts)
    const head = this.node.head
    this.opts.log.log(this.node.label, 'sync', `imported ${added} blocks in ${formatDuration(Date.now() - started)}, head #${head.height} ${shortHex(head.hash)}`)
  }

  /**
   * Runs `call` on the next source in rotation; on failure (or a reply
   * `useful` rejects) drops that source and tries the next one.
   */
  private async withSource<T>(name: string, what: string, call: (peer: Peer) => Promise<T>, summary: (r: T) => string, useful: (r: T) => boolean): Promise<T> {
    for (;;) {
      this.sources = this.sources.filter((p) => p.eth !== undefined && !p.eth.closed)
      if (this.sources.length === 0) throw new SyncError(`${this.node.label}: no peer left to ask for ${name} ${what}`)
      const peer = this.sources[this.next++ % this.sources.length]!
      try {
        const result = await this.request(peer, name, what, () => call(peer), summary)
        if (useful(result)) return result
        this.opts.log.log(this.node.label, 'error', `${this.opts.names.name(peer.id)} returned nothing for ${name} ${what}; asking another peer`)
      } catch (err) {
        // An interruption ends the sync; any other failure was logged by request() and drops the peer.
        if (err instanceof InterruptedError) throw err
      }
      this.sources = this.sources.filter((p) => p !== peer)
    }
  }

  /** One request with a log line (target, result, round-trip time); failures are logged and re-thrown. */
  private async request<T>(peer: Peer, name: string, what: string, call: () => Promise<T>, summary: (r: T) => string): Promise<T> {
    if (this.opts.signal?.aborted === true) throw new InterruptedError(`${this.node.label}'s ${name}`)
    const to = this.opts.names.name(peer.id)
    const started = Date.now()
    this.requests++
    try {
      const result = await call()
      this.servedBy.add(to)
      this.opts.log.log(this.node.label, 'request', `${name} ${what} -> ${to}: ${summary(result)} (${formatDuration(Date.now() - started)})`)
      return result
    } catch (err) {
      this.opts.log.log(this.node.label, 'error', `${name} ${what} -> ${to} failed: ${errorMessage(err)}`)
      throw err
    }
  }
}

function eth(peer: Peer): NonNullable<Peer['eth']> {
  if (peer.eth === undefined) throw new SyncError(`${peer.toString()} has no eth session`)
  return peer.eth
}

function bestOf(probed: Map<Peer, BlockHeader | undefined>): BlockHeader | undefined {
  let best: BlockHeader | undefined
  for (const h of probed.values()) if (h !== undefined && (best === undefined || h.number > best.number)) best = h
  return best
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
