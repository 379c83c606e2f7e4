import { PeerError } from '../../../errors'

/**
 * Recognising a remote that speaks legacy RLPx instead of the modular stack.
 *
 * Both paths share the ECIES handshake, so such a dial gets through the
 * secure channel and fails at the next step: the legacy node's first frame
 * is a devp2p Hello (RLP of message id 0 = 0x80, then the Hello list), where
 * a P2P node sends the multistream-select header. Read as a multistream
 * length prefix, 0x80 0xf8/0xf9 ... is a uvarint of at least 0x78 << 7 =
 * 15360, far above multistream's 1024-byte message limit, so the muxer
 * selection fails with ERR_MSS_PROTOCOL_ID_TOO_LONG before any further byte
 * is read. A multistream peer never opens with such a prefix.
 */

/** Upgrader error code for "the remote answered multistream-select with a devp2p Hello", when the stack reports it. */
export const LEGACY_RLPX_UPGRADE_CODE = 'ERR_UPGRADE_LEGACY_RLPX'
const MUXER_NEGOTIATION_CODE = 'ERR_UPGRADE_MUXER_NEGOTIATION_FAILED'
const HELLO_AS_MSS_CODE = 'ERR_MSS_PROTOCOL_ID_TOO_LONG'

/** Longest cause chain we follow (wrappers nest a handful deep; a cycle must not hang us). */
const MAX_CAUSE_DEPTH = 8

/** The remote finished the ECIES handshake and then spoke devp2p RLPx: not compatible with this node. */
export class LegacyRlpxPeerError extends PeerError {
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

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * True when a failed dial or inbound upgrade (any wrapper of it) is the
 * legacy-RLPx signature: the stack's typed legacy error if it reports one,
 * else a muxer negotiation that failed on an oversized first message.
 */
export function isLegacyRlpxFailure(err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && e !== undefined && e !== null; depth++) {
    const code = codeOf(e)
    if (code === LEGACY_RLPX_UPGRADE_CODE) return true
    if (code === MUXER_NEGOTIATION_CODE) return codeOf((e as { cause?: unknown }).cause) === HELLO_AS_MSS_CODE
    e = (e as { cause?: unknown }).cause
  }
  return false
}
