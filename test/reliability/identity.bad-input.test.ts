import { bytesToUnprefixedHex, concatBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterAll, beforeAll, expect } from 'vitest'

import { Event, type EthereumClient, type Peer } from '../../src/client'
import { EthCode } from '../../src/client/net/protocol/ethmessages'
import { uintBytes } from '../../src/client/net/protocol/rlpfields'
import { P2PPeer } from '../../src/client/net/peer/p2ppeer'
import { type HelloIdentityError, InvalidHelloIdError, UnexpectedHelloIdError } from '../../src/client/net/server/rlpx/identity'
import { type TestChain, buildTestChain } from '../../src/client/testing/testchain'
import { DisconnectReason } from '../../src/p2p'
import { chainWith, enodeId, nextPeer, startNode, testCommon } from '../client/helpers/nodes'
import { type ForgedHelloOutcome, dialWithForgedHello, listenWithForgedHello } from '../client/helpers/raw-peers'
import { WAIT_MS, collect } from '../client/helpers/waits'
import { badInputTable, expectTypedError } from './table'

import type { ETH } from '@ethereumjs/devp2p'

/**
 * The identity rule at the node (see rlpx/identity.ts): a session is the key
 * its ECIES handshake authenticated, and a devp2p Hello naming anything else
 * ends it with geth's Disconnect reason before any eth message, with nothing
 * pooled, banned or dialed under the claimed id. The remotes are bare
 * @ethereumjs/devp2p peers that complete the handshake with their own key and
 * then lie in their Hello, dialing the node or dialed by it.
 */

const BLOCKS = 2
let source: TestChain
/**
 * The nodes under attack, one per server: the legacy path checks devp2p's
 * Hello (AuthenticatedPeer), the P2P path's stack runs the Hello exchange
 * itself; both apply the one rule of src/p2p/rlpx/identity.ts and report alike.
 */
const targets = {} as Record<Kind, { client: EthereumClient; url: string }>
const clients: EthereumClient[] = []

type Kind = 'RlpxServer' | 'P2PServer'
const KINDS: readonly Kind[] = ['RlpxServer', 'P2PServer']

beforeAll(async () => {
  source = await buildTestChain({ common: testCommon(), blocks: BLOCKS, txsPerBlock: 1, seed: 'identity' })
  targets.RlpxServer = await node({})
  targets.P2PServer = await node({ useP2PServer: true })
}, 60_000)

afterAll(async () => {
  for (const c of clients.splice(0).reverse()) await c.stop()
})

async function node(opts: Parameters<typeof startNode>[0]): Promise<{ client: EthereumClient; url: string }> {
  const common = testCommon()
  const n = await startNode({ common, discV4: false, chain: await chainWith(common, source.blocks, source.receipts), ...opts })
  clients.push(n.client)
  return n
}

interface Remote {
  key: Uint8Array
  /** The 64-byte id its ECIES key proves. */
  id: Uint8Array
  hex: string
}

function remote(): Remote {
  const key = secp.randomSecretKey()
  const id = getPublicKey(key, false).subarray(1)
  return { key, id, hex: bytesToUnprefixedHex(id) }
}

/** The Hello ids an impostor tries, from its own proved id. */
const FORGERIES = {
  another: (_own: Uint8Array) => remote().id,
  prefixed65: (own: Uint8Array) => concatBytes(Uint8Array.of(0x04), own),
  twice128: (own: Uint8Array) => concatBytes(own, own),
} as const

/** Right behind its Hello: the node's own Status (so it would validate) and a malformed request (a ban, once a session runs). */
function statusAndMalformedRequest(client: EthereumClient): (eth: ETH) => void {
  const status = client.service.protocols[0]!.createStatus(68)
  return (eth) => {
    eth.sendStatus({ td: uintBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash })
    eth.sendMessage(EthCode.GetBlockHeaders as never, [uintBytes(1n), [uintBytes(1n)]] as never)
  }
}

/** No session, pool entry or ban under any of `ids` at `client`. */
function expectNothingUnder(client: EthereumClient, ids: string[]): void {
  for (const id of ids) {
    expect(client.service.pool.contains(id), `${id.slice(0, 8)} pooled`).toBe(false)
    expect(client.service.pool.isBanned(id), `${id.slice(0, 8)} banned by the pool`).toBe(false)
    expect(client.config.server.isBanned(id), `${id.slice(0, 8)} banned by the server`).toBe(false)
    expect(client.config.server.peers.some((p) => p.id === id), `${id.slice(0, 8)} a peer`).toBe(false)
  }
}

/** What the impostor must have seen: our Hello, then Disconnect(reason), and no eth message at all. */
function expectRefusedWith(outcome: ForgedHelloOutcome, reason: DisconnectReason): void {
  expect(outcome).toEqual({ reason, gotHello: true, ethMessages: 0 })
}

type IdError = abstract new (...args: never[]) => HelloIdentityError

const VARIANTS: { name: keyof typeof FORGERIES; what: string; type: IdError; code: string; reason: DisconnectReason }[] = [
  { name: 'another', what: "another node's id", type: UnexpectedHelloIdError, code: 'ERR_PEER_UNEXPECTED_IDENTITY', reason: DisconnectReason.UNEXPECTED_IDENTITY },
  { name: 'prefixed65', what: 'a 65-byte id (its key with the 0x04 prefix)', type: InvalidHelloIdError, code: 'ERR_PEER_INVALID_IDENTITY', reason: DisconnectReason.INVALID_IDENTITY },
  { name: 'twice128', what: 'its id twice (128 bytes)', type: InvalidHelloIdError, code: 'ERR_PEER_INVALID_IDENTITY', reason: DisconnectReason.INVALID_IDENTITY },
]

const reasonText = (r: DisconnectReason): string => (r === DisconnectReason.UNEXPECTED_IDENTITY ? 'UNEXPECTED_IDENTITY (0x09)' : 'INVALID_IDENTITY (0x07)')

/** An impostor dials the target; checks both ends. */
async function inbound(kind: Kind, v: (typeof VARIANTS)[number]): Promise<void> {
  const target = targets[kind]
  const impostor = remote()
  const claimed = FORGERIES[v.name](impostor.id)
  const events = target.client.config.events
  const messages = collect(events, Event.PROTOCOL_MESSAGE)
  const reported = events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS, filter: (_e, p) => p.id === impostor.hex })
  const refusedBefore = target.client.config.server.stats.inboundRefused
  try {
    const outcome = await dialWithForgedHello(target.url, { key: impostor.key, helloId: claimed, common: testCommon(), behindHello: statusAndMalformedRequest(target.client) })
    expectRefusedWith(outcome, v.reason)
    const [err, peer] = await reported
    const typed = expectTypedError(err, v.type, v.code)
    expect(typed.reason).toBe(v.reason)
    expect(typed.authenticatedId).toBe(impostor.hex)
    expect(peer.inbound).toBe(true)
    expect(target.client.config.server.stats.inboundRefused).toBe(refusedBefore + 1)
    // Nothing behind the refused Hello was read.
    expect(messages.items.filter(([, , p]) => (p as Peer).id === impostor.hex)).toEqual([])
    expectNothingUnder(target.client, [impostor.hex, bytesToUnprefixedHex(claimed)])
  } finally {
    messages.stop()
  }
}

/** The node dials an impostor (a bootnode whose URL names its real key); checks both ends. */
async function outbound(kind: Kind, v: (typeof VARIANTS)[number]): Promise<void> {
  const impostor = remote()
  const claimed = FORGERIES[v.name](impostor.id)
  const listener = await listenWithForgedHello({ key: impostor.key, helloId: claimed, common: testCommon() })
  try {
    let reported: Promise<[Error, Peer]> | undefined
    const dialer = await node({
      useP2PServer: kind === 'P2PServer',
      bootnodes: [listener.url],
      beforeStart: (c) => {
        reported = c.config.events.waitFor(Event.PEER_ERROR, { timeoutMs: WAIT_MS, filter: (_e, p) => p.id === impostor.hex })
      },
    })
    expectRefusedWith(await listener.outcome, v.reason)
    const [err, peer] = await reported!
    expect(expectTypedError(err, v.type, v.code).reason).toBe(v.reason)
    expect(peer.inbound).toBe(false)
    expect(dialer.client.config.server.stats.dialFailures).toBeGreaterThanOrEqual(1)
    expectNothingUnder(dialer.client, [impostor.hex, bytesToUnprefixedHex(claimed)])
  } finally {
    await listener.close()
  }
}

badInputTable('node', 'RLPx Hello naming another id than the ECIES-authenticated key (bare devp2p remote)', [
  ...KINDS.flatMap((kind) =>
    VARIANTS.map((v) => ({
      case: `${kind}, inbound: Hello with ${v.what}, then Status and a malformed request in the same write`,
      expected: `${v.type.name} (${v.code}) as PEER_ERROR under the remote's proved key; the remote sees our Hello, then Disconnect ${reasonText(v.reason)}, no eth message; nothing behind the Hello is read; nothing pooled or banned under either id`,
      run: () => inbound(kind, v),
    })),
  ),
  ...KINDS.flatMap((kind) =>
    VARIANTS.map((v) => ({
      case: `${kind}, outbound (the node dials it): Hello with ${v.what}`,
      expected: `${v.type.name} (${v.code}) as PEER_ERROR; the remote sees Disconnect ${reasonText(v.reason)} (${kind === 'RlpxServer' ? "checked before devp2p's own INVALID_IDENTITY check" : 'after the redial as RLPx its Hello answered our multistream-select with'}); a failed dial; nothing pooled or banned`,
      run: () => outbound(kind, v),
    })),
  ),
  ...KINDS.map((kind) => ({
    case: `${kind}: impersonation, a Hello naming a victim's id, then a valid Status and a request that would get a session banned`,
    expected: 'refused with UNEXPECTED_IDENTITY (0x09); no PROTOCOL_ERROR, no ban of the victim; the victim connects right after and is served',
    run: () => impersonation(kind),
  })),
])

async function impersonation(kind: Kind): Promise<void> {
  const target = targets[kind]
  const victim = remote()
  const events = target.client.config.events
  const protocolErrors = collect(events, Event.PROTOCOL_ERROR)
  const bans = collect(events, Event.POOL_PEER_BANNED)
  try {
    const impostor = remote()
    const outcome = await dialWithForgedHello(target.url, { key: impostor.key, helloId: victim.id, common: testCommon(), behindHello: statusAndMalformedRequest(target.client) })
    expectRefusedWith(outcome, DisconnectReason.UNEXPECTED_IDENTITY)
    expect(protocolErrors.items).toEqual([])
    expect(bans.items).toEqual([])
    expectNothingUnder(target.client, [victim.hex, impostor.hex])
    const real = await node({ useP2PServer: kind === 'P2PServer', key: victim.key, bootnodes: [target.url] })
    const toTarget = await nextPeer(real.client, enodeId(target.url))
    expect(await toTarget.eth!.getBlockHeaders({ block: 0n, max: BLOCKS + 1 })).toHaveLength(BLOCKS + 1)
    const atTarget = await nextPeerOrNow(target.client, victim.hex)
    expect(atTarget.id).toBe(victim.hex)
    if (atTarget instanceof P2PPeer) expect(bytesToUnprefixedHex(atTarget.connection.remoteId)).toBe(victim.hex)
  } finally {
    protocolErrors.stop()
    bans.stop()
  }
}

/** The connected peer `id` of `client`, now or once it connects. */
async function nextPeerOrNow(client: EthereumClient, id: string): Promise<Peer> {
  return client.config.server.peers.find((p) => p.id === id) ?? nextPeer(client, id)
}
