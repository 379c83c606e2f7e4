import { createSocket } from 'node:dgram'

import debug from 'debug'

import { ClientDpt } from './dpt'

import type { PeerInfo } from '@ethereumjs/devp2p'
import type { Socket as UdpSocket } from 'node:dgram'
import type { Config } from '../../config'

const log = debug('client:p2p:dpt')

export interface DiscoveryOptions {
  config: Config
  /** Node private key (DPT signs its packets with it). */
  key: Uint8Array
  /** The TCP port peers should dial, announced in our discovery endpoint. */
  tcpPort: number
  onPeer: (info: PeerInfo) => void
  onSocketError: (err: Error) => void
}

/**
 * discv4 for the P2PServer, set up the way RlpxServer sets it up: the server
 * binds the UDP socket itself (so the endpoint DPT announces carries the
 * real port, also for port 0) and hands it to the client's ClientDpt, whose
 * destroy() leaves no discovery timer behind.
 */
export class Discovery {
  readonly dpt: ClientDpt
  readonly udpPort: number
  private readonly udp: UdpSocket
  private closing?: Promise<void>

  private constructor(dpt: ClientDpt, udp: UdpSocket, udpPort: number) {
    this.dpt = dpt
    this.udp = udp
    this.udpPort = udpPort
  }

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
      udp.close()
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
      common: config.common,
    })
    dpt.events.on('peer:new', opts.onPeer)
    // Unanswered pings and garbage datagrams are routine on a public network.
    dpt.events.on('error', (err: Error) => log('%s', err.message))
    return new Discovery(dpt, udp, udpPort)
  }

  /** Stops DPT (its timers) and closes the socket; resolves when the socket is closed. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.udp.once('close', () => resolve())
      this.dpt.destroy()
    })
    return this.closing
  }
}
