import net from 'node:net'
import { Mainnet, createCustomCommon } from '@ethereumjs/common'
import { ETH, RLPx } from '@ethereumjs/devp2p'
import { getPublicKey, utils } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'
import { LegacyRlpxPeerError } from '../../../src/p2p/stack-errors'
import type { InboundUpgradeError } from '../../../src/p2p/transport'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS } from './helpers'
import { listen, makeNode } from './nodes'

/**
 * A P2P-stack node meeting a real @ethereumjs/devp2p RLPx node: the ECIES
 * handshake succeeds (same wire format), then the devp2p Hello frame is not
 * multistream-select. Both directions must end in LegacyRlpxPeerError.
 */

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function rlpxNode(): { rlpx: RLPx; id: Uint8Array } {
  const key = utils.randomSecretKey()
  const common = createCustomCommon({ chainId: 1234 }, Mainnet)
  const rlpx = new RLPx(key, { dpt: null, maxPeers: 5, capabilities: [ETH.eth68], common, listenPort: null })
  rlpx.events.on('error', () => {})
  rlpx.events.on('peer:error', () => {})
  cleanups.push(() => rlpx.destroy())
  return { rlpx, id: getPublicKey(key, false).slice(1) }
}

/**
 * RLPx does not expose the port it bound, so reserve an ephemeral one first.
 * The window between closing and rebinding it is the only race here.
 */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

describe('legacy RLPx peers', () => {
  it('dialing a devp2p RLPx node fails with LegacyRlpxPeerError after a successful ECIES handshake', async () => {
    const { rlpx, id } = rlpxNode()
    const port = await freePort()
    const listening = waitForEvent(rlpx.events as unknown as import('node:events').EventEmitter, 'listening', {
      timeoutMs: EVENT_TIMEOUT_MS,
    })
    rlpx.listen(port, '127.0.0.1')
    await listening
    const a = makeNode()
    const err = await a.transport.dial({ host: '127.0.0.1', port }, { remoteId: id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LegacyRlpxPeerError)
    expect((err as LegacyRlpxPeerError).code).toBe('ERR_UPGRADE_LEGACY_RLPX')
  })

  it('a devp2p RLPx node dialing our listener is reported as LegacyRlpxPeerError', async () => {
    const { rlpx, id } = rlpxNode()
    const b = makeNode()
    const l = await listen(b)
    cleanups.push(() => l.close())
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    rlpx.connect({ id: b.id, address: '127.0.0.1', tcpPort: l.address().port }).catch(() => {})
    const [err] = await failed
    expect(err.cause).toBeInstanceOf(LegacyRlpxPeerError)
    // The ECIES handshake authenticated the dialer before its Hello arrived: the report names it.
    expect(Buffer.from(err.remoteId!).equals(Buffer.from(id))).toBe(true)
  })
})
