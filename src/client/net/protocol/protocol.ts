import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { BoundEthProtocol } from './boundethprotocol'
import { ForkIdError, StatusMismatchError } from './errors'
import { isEthVersion } from './ethmessages'
import { type BlockRange, type EthStatus, type EthStatusRange, type EthStatusTd, checkBlockRange, hasBlockRange, usesBlockRange } from './ethstatus'
import { type ForkIdHead, type GenesisInfo, computeForkId, validateForkId } from './forkid'

import type { Chain } from '../../blockchain/chain'
import type { Config } from '../../config'
import type { Peer } from '../peer/peer'
import type { Sender } from './sender'

export interface ProtocolOptions {
  config: Config
  chain: Chain
}

export interface BindOptions {
  /**
   * Called with the session the moment the remote Status is validated,
   * before any message behind it is handled: the peer stores the session
   * here, so a request that arrived in the same chunk as the Status finds it.
   */
  onReady?: (bound: BoundEthProtocol) => void
}

/**
 * The full blocks (bodies and receipts) `chain` serves, as eth/69+ announces
 * them: from genesis, since this client keeps its whole chain, to the head.
 */
export function servedBlockRange(chain: Chain): BlockRange {
  const { latest } = chain.headers
  return { earliestBlock: 0n, latestBlock: latest.number, latestBlockHash: latest.hash() }
}

/**
 * A protocol the client speaks (eth), independent of how its bytes travel.
 * It owns what a session must agree on: our Status, and the validation of the
 * remote's (version, network id, genesis hash, EIP-2124 fork id). Transport
 * flavours (EthProtocol over RLPx, StreamEthProtocol over a stream) subclass it
 * and all bind through the same BoundEthProtocol; both offer `config.ethVersions`.
 */
export abstract class Protocol {
  readonly name: string = 'eth'
  /** Versions offered, highest first: `config.ethVersions`. */
  readonly versions: number[]
  readonly config: Config
  readonly chain: Chain

  constructor(opts: ProtocolOptions) {
    this.config = opts.config
    this.chain = opts.chain
    this.versions = [...opts.config.ethVersions]
  }

  /** Makes the chain ready to answer Status (idempotent). */
  async open(): Promise<void> {
    await this.chain.open()
  }

  /** The network id we announce and require: the chain id, as devp2p announces it. */
  get networkId(): bigint {
    return this.config.common.chainId()
  }

  /**
   * Our Status for a session of `version`: network id, genesis, fork id at the
   * head, and the head itself, as total difficulty and hash up to eth/68 or
   * as the block range we serve from eth/69 on (every block from genesis: this
   * node keeps the whole chain).
   */
  createStatus(version: 66 | 67 | 68): EthStatusTd
  createStatus(version: 69 | 70): EthStatusRange
  createStatus(version: number): EthStatus
  createStatus(version: number): EthStatus {
    const common = {
      version,
      networkId: this.networkId,
      genesisHash: this.chain.genesis.hash(),
      forkId: computeForkId(this.config.common, this.head(), this.genesisInfo()),
    }
    const { td, latest } = this.chain.headers
    if (usesBlockRange(version)) return { ...common, ...this.blockRange() }
    return { ...common, td, bestHash: latest.hash() }
  }

  /** The full blocks this node serves (see servedBlockRange). */
  blockRange(): BlockRange {
    return servedBlockRange(this.chain)
  }

  /**
   * Checks the remote's Status for a session of `version`; throws
   * StatusMismatchError naming the first field that does not match, or
   * (eth/69+) InvalidBlockRangeError for a range that cannot be.
   */
  validateStatus(remote: EthStatus, version: number): void {
    if (remote.version !== version || !isEthVersion(version)) {
      throw new StatusMismatchError('version', `remote announces eth/${remote.version}, session is eth/${version}`)
    }
    if (remote.networkId !== this.networkId) {
      throw new StatusMismatchError('networkId', `remote network id ${remote.networkId}, ours ${this.networkId}`)
    }
    const genesisHash = this.chain.genesis.hash()
    if (!equalsBytes(remote.genesisHash, genesisHash)) {
      throw new StatusMismatchError(
        'genesisHash',
        `remote genesis ${bytesToHex(remote.genesisHash)}, ours ${bytesToHex(genesisHash)}`,
      )
    }
    try {
      validateForkId(this.config.common, this.head(), this.genesisInfo(), remote.forkId)
    } catch (err) {
      if (!(err instanceof ForkIdError)) throw err
      throw new StatusMismatchError('forkId', err.message, { cause: err })
    }
    // The decoder gave the form of `version`; a hand-built status of the other form is a caller bug.
    if (hasBlockRange(remote) !== usesBlockRange(version)) {
      throw new StatusMismatchError('version', `an eth/${version} Status in the form of another version`)
    }
    if (hasBlockRange(remote)) checkBlockRange(remote, 'Status')
  }

  /**
   * Runs the Status handshake with `peer` over `sender` and resolves with the
   * session once it is usable; rejects with the reason (and closes the sender) otherwise.
   */
  async bind(peer: Peer, sender: Sender, opts: BindOptions = {}): Promise<BoundEthProtocol> {
    if (!this.versions.includes(sender.version)) {
      const err = new StatusMismatchError('version', `transport negotiated eth/${sender.version}, we speak ${this.versions.join('/')}`)
      sender.close(err)
      throw err
    }
    const onReady = opts.onReady
    const bound: BoundEthProtocol = new BoundEthProtocol({
      config: this.config,
      protocol: this,
      peer,
      sender,
      onReady: onReady === undefined ? undefined : () => onReady(bound),
    })
    await bound.handshake()
    return bound
  }

  private head(): ForkIdHead {
    const { latest } = this.chain.headers
    return { number: latest.number, timestamp: latest.timestamp }
  }

  private genesisInfo(): GenesisInfo {
    const genesis = this.chain.genesis.header
    return { hash: genesis.hash(), timestamp: genesis.timestamp }
  }
}
