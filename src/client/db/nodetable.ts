import { isIPv4 } from 'node:net'

import { bytesToUtf8, unprefixedHexToBytes, utf8ToBytes } from '@ethereumjs/util'
import debug from 'debug'

import { PEER_PREFIX } from './keys'
import { type KvOp, type KvStore, prefixRange, prefixed } from './kvstore'

import type { PeerInfo } from '@ethereumjs/devp2p'

const log = debug('client:db:nodes')

/**
 * Nodes remembered. A restarted node dials them before its bootnodes answer; more than a few
 * times maxPeers is never needed for that, and the table stays small enough to load at start.
 */
export const DEFAULT_MAX_KNOWN_NODES = 512

/**
 * A node neither seen nor connected for this long is forgotten (at load): its address has
 * likely changed, and dialing it costs a timeout. A week keeps a devnet's nodes over a weekend.
 */
export const DEFAULT_KNOWN_NODE_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000

const NODE_ID_HEX = /^[0-9a-f]{128}$/

/** A remembered node. Times are milliseconds since the epoch. */
export interface KnownNode {
  /** Node id, 128 hex characters. */
  id: string
  ip: string
  tcpPort: number
  /** Discovery port, 0 if unknown (a peer dialed from a bootnode list without discovery). */
  udpPort: number
  /** Last time discovery reported it or a session with it started. */
  lastSeen: number
  /** Last time a session with it started (it spoke our chain), if ever. */
  lastSession?: number
}

export interface NodeTableOptions {
  maxNodes?: number
  maxAgeMs?: number
  /** The clock; tests pass their own. */
  now?: () => number
}

/**
 * The nodes a node has seen through discovery and the peers it had sessions with, kept in the
 * dataDir's database so that a restarted node has someone to dial at once. Updates are
 * written in the background, in order; `close()` waits for them.
 */
export class NodeTable {
  readonly maxNodes: number
  private readonly kv: KvStore
  private readonly now: () => number
  private readonly nodes = new Map<string, KnownNode>()
  private writes: Promise<void> = Promise.resolve()
  private writeError?: unknown

  private constructor(kv: KvStore, maxNodes: number, now: () => number) {
    this.kv = kv
    this.maxNodes = maxNodes
    this.now = now
  }

  /** Loads the table; records that are expired or malformed are dropped (and deleted). */
  static async open(kv: KvStore, opts: NodeTableOptions = {}): Promise<NodeTable> {
    const table = new NodeTable(kv, opts.maxNodes ?? DEFAULT_MAX_KNOWN_NODES, opts.now ?? Date.now)
    const oldest = table.now() - (opts.maxAgeMs ?? DEFAULT_KNOWN_NODE_MAX_AGE_MS)
    const stale: KvOp[] = []
    for await (const [key, value] of kv.range(prefixRange(PEER_PREFIX))) {
      const node = parseRecord(value)
      if (node === undefined || node.lastSeen < oldest) stale.push({ type: 'del', key })
      else table.nodes.set(node.id, node)
    }
    await kv.batch(stale)
    log('loaded %d nodes (%d dropped)', table.nodes.size, stale.length)
    return table
  }

  get size(): number {
    return this.nodes.size
  }

  get(id: string): KnownNode | undefined {
    const node = this.nodes.get(id)
    return node === undefined ? undefined : { ...node }
  }

  /** Discovery reported the node at this endpoint. */
  seen(node: { id: string; ip: string; tcpPort: number; udpPort: number }): void {
    if (!NODE_ID_HEX.test(node.id) || !isIPv4(node.ip) || !validPort(node.tcpPort) || node.tcpPort === 0) return
    const previous = this.nodes.get(node.id)
    this.store({ ...previous, id: node.id, ip: node.ip, tcpPort: node.tcpPort, udpPort: validPort(node.udpPort) ? node.udpPort : 0, lastSeen: this.now() })
  }

  /** A session with the node started; `address` ("ip:port") is where we dialed it. */
  session(id: string, address: string): void {
    const at = address.lastIndexOf(':')
    const ip = address.slice(0, at)
    const tcpPort = Number(address.slice(at + 1))
    if (!NODE_ID_HEX.test(id) || !isIPv4(ip) || !validPort(tcpPort) || tcpPort === 0) return
    const previous = this.nodes.get(id)
    const now = this.now()
    this.store({ udpPort: 0, ...previous, id, ip, tcpPort, lastSeen: now, lastSession: now })
  }

  /** Forgets a node (banned, or it turned out to be on another chain). */
  remove(id: string): void {
    if (!this.nodes.delete(id)) return
    this.write([{ type: 'del', key: recordKey(id) }])
  }

  /** The nodes to dial at start, best first: peers that had a session (latest first), then the rest by last seen. */
  dialOrder(): PeerInfo[] {
    const rank = (n: KnownNode): [number, number] => [n.lastSession ?? -1, n.lastSeen]
    return [...this.nodes.values()]
      .sort((a, b) => {
        const [sa, la] = rank(a)
        const [sb, lb] = rank(b)
        return sb - sa || lb - la
      })
      .map((n) => ({ id: unprefixedHexToBytes(n.id), address: n.ip, tcpPort: n.tcpPort, udpPort: n.udpPort }))
  }

  /** Waits for the writes in progress; rejects with the first write error, if any. */
  async flushed(): Promise<void> {
    await this.writes
    if (this.writeError !== undefined) throw this.writeError
  }

  private store(node: KnownNode): void {
    this.nodes.set(node.id, node)
    const ops: KvOp[] = [{ type: 'put', key: recordKey(node.id), value: utf8ToBytes(JSON.stringify(node)) }]
    if (this.nodes.size > this.maxNodes) {
      // Evicts the node seen longest ago that never had a session, else the oldest of all.
      const all = [...this.nodes.values()]
      const victim = all.filter((n) => n.lastSession === undefined).sort((a, b) => a.lastSeen - b.lastSeen)[0] ?? all.sort((a, b) => a.lastSeen - b.lastSeen)[0]!
      this.nodes.delete(victim.id)
      ops.push({ type: 'del', key: recordKey(victim.id) })
    }
    this.write(ops)
  }

  private write(ops: KvOp[]): void {
    this.writes = this.writes.then(() =>
      this.kv.batch(ops).catch((err: unknown) => {
        // The table is a convenience: a failed write is logged and reported by flushed(), the node keeps running.
        log('write failed: %s', (err as Error).message)
        this.writeError ??= err
      }),
    )
  }
}

function recordKey(id: string): Uint8Array {
  return prefixed(PEER_PREFIX, unprefixedHexToBytes(id))
}

function validPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535
}

function parseRecord(value: Uint8Array): KnownNode | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(bytesToUtf8(value))
  } catch {
    return undefined
  }
  const n = parsed as Partial<KnownNode>
  if (typeof n !== 'object' || n === null || typeof n.id !== 'string' || !NODE_ID_HEX.test(n.id)) return undefined
  if (typeof n.ip !== 'string' || !isIPv4(n.ip) || !validPort(n.tcpPort) || !validPort(n.udpPort) || typeof n.lastSeen !== 'number') return undefined
  if (n.lastSession !== undefined && typeof n.lastSession !== 'number') return undefined
  return { id: n.id, ip: n.ip, tcpPort: n.tcpPort, udpPort: n.udpPort, lastSeen: n.lastSeen, ...(n.lastSession === undefined ? {} : { lastSession: n.lastSession }) }
}
