import { Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { DisconnectReason } from '../../src/p2p/rlpx'

/**
 * devp2p's Peer, observed: Pings and Pongs it receives are announced as
 * 'ping' / 'pong' events, every Disconnect it receives as 'disconnect-received'. The class must be named Peer: devp2p decodes base
 * protocol messages only for a handler whose constructor.name is 'Peer'.
 */
export const ObservedPeer = class Peer extends Devp2pPeer {
  override _handlePing(): void {
    super._handlePing()
    this.events.emit('ping')
  }

  override _handlePong(): void {
    super._handlePong()
    this.events.emit('pong')
  }

  /** devp2p reports a Disconnect through 'close' only after Hello; this announces every one, as 'disconnect-received'. */
  override _handleDisconnect(payload: unknown): void {
    super._handleDisconnect(payload)
    this.events.emit('disconnect-received', this._disconnectReason)
  }
}
export type ObservedPeer = InstanceType<typeof ObservedPeer>

/** devp2p's ping timeout; its own pings come every 15 s (fixed), so only _sendPing() triggers one in a test. */
export const DEVP2P_TIMEOUT_MS = 10_000

/** Resolves once devp2p's side of the session is past Hello; rejects if it closes first. */
export function devp2pConnected(peer: Devp2pPeer): Promise<void> {
  return new Promise((resolve, reject) => {
    peer.events.once('connect', () => resolve())
    peer.events.once('close', (reason: number) => reject(new Error(`devp2p session closed before Hello (reason ${reason})`)))
  })
}

/** What devp2p reports when the session closes: the reason and whether it ended the session itself. */
export function devp2pClose(peer: Devp2pPeer): Promise<[number, boolean]> {
  return new Promise((resolve) => peer.events.once('close', (r: number, we: boolean) => resolve([r, we])))
}

/** Every Disconnect reason as [name, code], for it.each. */
export const REASON_CASES = Object.values(DisconnectReason)
  .filter((v): v is DisconnectReason => typeof v === 'number')
  .map((r) => [DisconnectReason[r], r] as const)
