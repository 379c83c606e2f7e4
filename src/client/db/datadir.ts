import { join } from 'node:path'

import debug from 'debug'

import { Event } from '../types'
import { ChainStore } from './chainstore'
import { LevelKvStore } from './level'
import { NodeTable } from './nodetable'

import type { Common } from '@ethereumjs/common'
import type { Config } from '../config'
import type { AnyServer } from '../net/server'
import type { Peer } from '../net/peer/peer'
import type { DiscoveredPeer } from '../types'

const log = debug('client:datadir')

/** The database's directory inside a dataDir (geth's name for it). */
export const CHAIN_DATA_DIR = 'chaindata'

export interface DataDirOptions {
  /** The chain the dataDir holds (a dataDir of another chain is refused). */
  common: Common
  /** States kept below the head. Default DEFAULT_STATE_HISTORY (128). */
  stateHistory?: number
}

/**
 * What a node keeps in its dataDir while it runs: the database (whose lock makes the dataDir
 * this process's), the chain in it (ChainStore, which the client's Chain runs on) and the node
 * table. The node key is read by Config (`<dataDir>/nodekey`), before anything is opened.
 */
export class DataDir {
  readonly path: string
  readonly kv: LevelKvStore
  readonly chain: ChainStore
  readonly nodes: NodeTable
  private detach?: () => void
  private closing?: Promise<void>

  private constructor(path: string, kv: LevelKvStore, chain: ChainStore, nodes: NodeTable) {
    this.path = path
    this.kv = kv
    this.chain = chain
    this.nodes = nodes
  }

  /**
   * Opens the database of `dataDir` and the chain in it (at its head, without re-executing).
   * ConfigError('dataDir', '... in use') if another process has it open, or if it holds
   * another chain; StorageError when it cannot be read or written (damaged, read-only).
   * Nothing stays open after a failure.
   */
  static async open(dataDir: string, opts: DataDirOptions): Promise<DataDir> {
    const kv = await LevelKvStore.open(join(dataDir, CHAIN_DATA_DIR), { dataDir })
    try {
      const chain = await ChainStore.open({ kv, common: opts.common, stateHistory: opts.stateHistory })
      return new DataDir(dataDir, kv, chain, await NodeTable.open(kv))
    } catch (err) {
      await kv.close()
      throw err
    }
  }

  /**
   * Records the nodes `config.events` reports (discovered nodes, peers we dialed that reached
   * a session) and dials the remembered ones as soon as `server` listens, before its
   * bootnodes answer.
   */
  attach(config: Config, server: AnyServer): void {
    this.detach?.()
    const onListening = (): void => {
      const known = this.nodes.dialOrder()
      log('dialing %d remembered nodes', known.length)
      server.dialKnown(known)
    }
    const onDiscovered = (p: DiscoveredPeer): void => {
      const at = p.address.lastIndexOf(':')
      this.nodes.seen({ id: p.id, ip: p.address.slice(0, at), tcpPort: Number(p.address.slice(at + 1)), udpPort: p.udpPort ?? 0 })
    }
    // An inbound peer's address is its outgoing port, not one to dial it at.
    const onConnected = (peer: Peer): void => {
      if (!peer.inbound) this.nodes.session(peer.id, peer.address)
    }
    config.events.on(Event.SERVER_LISTENING, onListening)
    config.events.on(Event.PEER_DISCOVERED, onDiscovered)
    config.events.on(Event.PEER_CONNECTED, onConnected)
    this.detach = () => {
      config.events.off(Event.SERVER_LISTENING, onListening)
      config.events.off(Event.PEER_DISCOVERED, onDiscovered)
      config.events.off(Event.PEER_CONNECTED, onConnected)
      this.detach = undefined
    }
  }

  /**
   * Stops recording, waits for the node table's writes and closes the database (the chain
   * store with it: close the Chain running on it first). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.detach?.()
    try {
      await this.nodes.flushed()
    } finally {
      await this.chain.close()
    }
  }
}

