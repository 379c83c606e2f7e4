import { DPT } from '@ethereumjs/devp2p'

import type { DPTOptions, PeerInfo } from '@ethereumjs/devp2p'

/** Spacing of pings to a batch of newly heard-of nodes, so a big Neighbours reply is not one UDP burst (devp2p's value). */
export const DISCOVERY_BATCH_SPACING_MS = 200

interface PendingPing {
  timeoutId?: NodeJS.Timeout
}

/** The slice of devp2p's discovery server this class reaches into. */
interface Devp2pDptServer {
  ping(peer: PeerInfo): Promise<PeerInfo>
  _requests: Map<string, PendingPing>
}

/**
 * devp2p's DPT with timers a stopped client can account for. Stock DPT
 * leaves two kinds of timers behind `destroy()`: each ping keeps its timeout
 * timer even after the pong (devp2p only checks, when it fires, that the
 * request is gone), and the pings to a batch of heard-of nodes are spread
 * over untracked timers. This subclass clears a ping's timer once the ping
 * settles, owns the batch timers, and clears both on destroy().
 *
 * One devp2p timer stays out of reach: on a ping from an unknown node,
 * devp2p's UDP handler waits 100 ms before reporting the node; such a timer
 * can outlive destroy() by at most those 100 ms.
 */
export class ClientDpt extends DPT {
  private readonly pingTimers = new Set<NodeJS.Timeout>()
  private readonly batchTimers = new Set<NodeJS.Timeout>()
  private destroyed = false

  constructor(privateKey: Uint8Array, options: DPTOptions) {
    super(privateKey, options)
    this.trackPingTimers()
  }

  override _addPeerBatch(peers: PeerInfo[]): void {
    peers.forEach((peer, i) => {
      const timer = setTimeout(() => {
        this.batchTimers.delete(timer)
        if (this.destroyed) return
        this.addPeer(peer).catch((err: Error) => this.events.emit('error', err))
      }, i * DISCOVERY_BATCH_SPACING_MS)
      this.batchTimers.add(timer)
    })
  }

  override destroy(...args: unknown[]): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const t of this.batchTimers) clearTimeout(t)
    for (const t of this.pingTimers) clearTimeout(t)
    this.batchTimers.clear()
    this.pingTimers.clear()
    super.destroy(...args)
  }

  /** Wraps the discovery server's ping so each ping's timeout timer is known and cleared when it settles. */
  private trackPingTimers(): void {
    const server = this._server as unknown as Devp2pDptServer
    const ping = server.ping.bind(server)
    server.ping = (peer: PeerInfo): Promise<PeerInfo> => {
      const pendingBefore = server._requests.size
      const result = ping(peer)
      // A new ping appends one request (a cached one adds nothing); its entry holds the timer.
      if (server._requests.size > pendingBefore) {
        const timer = [...server._requests.values()].at(-1)?.timeoutId
        if (timer !== undefined) {
          this.pingTimers.add(timer)
          const settle = (): void => {
            clearTimeout(timer)
            this.pingTimers.delete(timer)
          }
          result.then(settle, settle)
        }
      }
      return result
    }
  }
}
