import { InboundUpgradeError, LegacyRlpxPeerError } from '../../../../p2p'
import { PeerError } from '../../../errors'

/**
 * A remote that speaks legacy RLPx instead of the modular stack.
 *
 * Both paths share the ECIES handshake, so such a dial gets through the
 * secure channel and fails at the next step: the legacy node's first frame
 * is a devp2p Hello, where a P2P node sends the multistream-select header.
 * The Upgrader recognises that and fails with the stack's
 * LegacyRlpxPeerError; the server bans the node and reports it with the
 * error below, so it is not redialed in a loop.
 */

/** The client refused (and banned) a node that finished the ECIES handshake and then spoke devp2p RLPx. */
export class LegacyRlpxPeerBannedError extends PeerError {
  constructor(
    readonly peerId: string,
    readonly address: string,
    banMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_PEER_LEGACY_RLPX',
      `${peerId.slice(0, 8)}@${address}: remote speaks legacy RLPx (devp2p Hello instead of multistream-select after the ECIES handshake); not compatible with the P2P stack, banned for ${banMs} ms`,
      options,
    )
  }
}

/** True when a failed dial, or a listener's failed inbound upgrade, is the stack's LegacyRlpxPeerError. */
export function isLegacyRlpxFailure(err: unknown): boolean {
  const failure = err instanceof InboundUpgradeError ? err.cause : err
  return failure instanceof LegacyRlpxPeerError
}
