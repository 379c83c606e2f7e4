import { createSocket } from 'node:dgram'

import debug from 'debug'

import { discoveryCommon } from './discoverycrypto'
import { ClientDpt } from './rlpx/dpt'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { Socket as UdpSocket } from 'node:dgram'
import type { Config } from '../../config'

const log = debug('client:dpt')

/**
 * devp2p's discovery server, on a ping from a node it does not know yet,
 * reports that node from a 100 ms timer it keeps no handle to (dpt/server.js).
 * DPT's destroy() cannot cancel that timer, so close() waits it out after the
 * last datagram: a stopped server leaves no timer behind.
 */
export const DEVP2P_PING_REPORT_DELAY_MS = 100
/**
 * Added to the wait above: our clock reading and the one devp2p's timer was
 * armed with can differ by the length of one event-loop turn.
 */
const PING_REPORT_MARGIN_MS = 10

export interface DiscoveryOptions {
  config: Config
  /** Node private key (DPT signs its packets with it). */
  key: Uint8Array
  /** The TCP port peers should dial, announced in our discovery endpoint. */
  tcpPort: number
  /** A node discovery found (added to the table). */
  onPeer: (info: PeerInfo) => void
  /** The UDP socket failed after it was bound. */
  onSocketError: (err: Error) => void
}

/**
 * discv4 for both servers (RlpxServer and P2PServer): the UDP socket is bound
 * here (so the endpoint DPT announces carries the real port, also for port 0)
 * and handed to ClientDpt, whose destroy() leaves no discovery timer behind.
 */
export class Discovery {
  readonly dpt: ClientDpt
  readonly udpPort: number
  private readonly udp: UdpSocket
  private lastDatagramAt = 0
  private closing?: Promise<void>

  private constructor(dpt: ClientDpt, udp: UdpSocket, udpPort: number) {
    this.dpt = dpt
    this.udp = udp
    this.udpPort = udpPort
    udp.on('message', () => {
      this.lastDatagramAt = Date.now()
    })
  }

  /** Binds `config.discPort` on `config.bindAddress` and starts DPT on it; rejects if the port cannot be bound. */
  static async start(opts: DiscoveryOptions): Promise<Discovery> {
    const { config } = opts
    const udp = createSocket({ type: 'udp4' })
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(config.discPort, config.bindAddress, () => {
          udp.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()))
      throw err
    }
    const udpPort = udp.address().port
    udp.on('error', opts.onSocketError)
    const dpt = new ClientDpt(opts.key, {
      endpoint: { address: config.extIP, udpPort, tcpPort: opts.tcpPort },
      createSocket: () => udp,
      timeout: config.discoveryTimeoutMs,
      refreshInterval: config.discoveryRefreshMs,
      shouldFindNeighbours: true,
      shouldGetDnsPeers: false,
      common: discoveryCommon(config.common),
    })
    dpt.events.on('peer:new', opts.onPeer)
    // Unanswered pings and garbage datagrams are routine on a public network: logged, not reported.
    dpt.events.on('error', (err: Error) => log('%s', err.message))
    return new Discovery(dpt, udp, udpPort)
  }

  /** Stops DPT (its timers) and closes the socket; resolves once nothing of discovery is left. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.udp.once('close', () => resolve())
      this.dpt.destroy() // clears DPT's refresh interval and ping timers, closes the socket
    })
    const wait = this.lastDatagramAt + DEVP2P_PING_REPORT_DELAY_MS + PING_REPORT_MARGIN_MS - Date.now()
    if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait))
  }
}
