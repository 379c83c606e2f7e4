import { ETH } from '@ethereumjs/devp2p'

import { ETH_VERSIONS } from './ethmessages'
import { Protocol } from './protocol'

/** A devp2p capability descriptor as RLPx takes it (`ETH.eth68`, ...). */
export type Devp2pCapability = (typeof ETH)['eth68']

const CAPABILITY_BY_VERSION: Record<number, Devp2pCapability> = { 68: ETH.eth68, 67: ETH.eth67, 66: ETH.eth66 }

/**
 * eth/68, eth/67 and eth/66 as devp2p RLPx capabilities. Sessions are bound
 * through an RlpxSender over the devp2p `ETH` instance RLPx created for the
 * negotiated version; everything else is the shared Protocol/BoundProtocol.
 */
export class EthProtocol extends Protocol {
  readonly versions: number[] = [...ETH_VERSIONS]

  /** Capabilities to hand to devp2p's RLPx, highest version first. */
  get capabilities(): Devp2pCapability[] {
    return this.versions.map((v) => CAPABILITY_BY_VERSION[v])
  }
}
