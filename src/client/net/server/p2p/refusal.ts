import { InboundUpgradeError, RlpxHandshakeFailedError, RlpxIdentityError, RlpxNoSharedCapabilityError } from '../../../../p2p'
import { peerIdHex } from '../../peer/peer'
import { NoSharedVersionError } from '../../protocol/errors'
import { type HelloIdentityError, helloIdentityError } from '../rlpx/identity'

/**
 * An RLPx peer the stack refused during its Hello exchange, as the client
 * reports it: the same errors, under the same rules, as the legacy path
 * (RlpxServer): a Hello naming another id than the remote's proved key is a
 * HelloIdentityError (not banned: the claimed id's owner must stay
 * unaffected), a Hello sharing no eth version is a NoSharedVersionError
 * (banned). The RlpxMuxer has already sent the Disconnect (geth's reason).
 */
export interface RlpxRefusal {
  error: HelloIdentityError | NoSharedVersionError
  /** The remote's ECIES-authenticated id (hex). */
  remoteId: string
}

/** The refusal a failed dial or a listener's failed inbound upgrade stands for, or undefined for any other failure. */
export function rlpxRefusal(err: unknown, ourEthVersions: readonly number[]): RlpxRefusal | undefined {
  const failure = err instanceof InboundUpgradeError ? err.cause : err
  if (!(failure instanceof RlpxHandshakeFailedError) || failure.remoteId === undefined) return undefined
  const remoteId = peerIdHex(failure.remoteId)
  const cause = failure.cause
  if (cause instanceof RlpxIdentityError) return { error: helloIdentityError(cause), remoteId }
  if (cause instanceof RlpxNoSharedCapabilityError) {
    const theirs = cause.remoteCapabilities.filter((c) => c.name === 'eth').map((c) => c.version)
    return { error: new NoSharedVersionError(ourEthVersions, theirs), remoteId }
  }
  return undefined
}
