import { ETH } from '@ethereumjs/devp2p'

import { Protocol } from './protocol'
import { ethWireCapability } from './rlpxwire'

import type { Capabilities } from '@ethereumjs/devp2p'

/** A devp2p capability descriptor as RLPx takes it (`ETH.eth68`, or ours for eth/69+). */
export type Devp2pCapability = Capabilities

/** devp2p's own ETH class, for the versions it implements. */
const DEVP2P_ETH: Record<number, Devp2pCapability> = { 68: ETH.eth68, 67: ETH.eth67, 66: ETH.eth66 }

/**
 * eth as devp2p RLPx capabilities, one per offered version. eth/66..68 use
 * devp2p's `ETH` class (bound through an RlpxSender); eth/69 and later, which
 * devp2p does not know, are our own capability class (EthWire, bound through
 * an RlpxWireSender). Either way what a session means is the shared
 * Protocol/BoundProtocol and the one codec.
 */
export class EthProtocol extends Protocol {
  /** Capabilities to hand to devp2p's RLPx, highest version first (devp2p picks the highest shared one). */
  get capabilities(): Devp2pCapability[] {
    return this.versions.map((v) => DEVP2P_ETH[v] ?? ethWireCapability(v))
  }
}
