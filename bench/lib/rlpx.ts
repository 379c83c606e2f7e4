/**
 * The legacy anchor: @ethereumjs/devp2p RLPx sessions (ECIES, Hello, the ETH
 * capability with its Status). Two shapes: `RLPx` instances (the devp2p
 * connection manager, as a legacy node runs it, no DPT) and bare devp2p
 * `Peer`s on sockets we own (as the client's RlpxServer runs them), where a
 * bench needs the socket, e.g. to respect TCP backpressure.
 */
import type { Socket } from 'node:net'

import { DISCONNECT_REASON, ETH, Peer as Devp2pPeer, RLPx, pk2id } from '@ethereumjs/devp2p'
import { utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils } from '@noble/secp256k1'

import { sendDisconnect, withClientEth } from '../../src/client/net/server/rlpx/devp2p'
import { benchCommon, type StatusSource } from './chain'
import { HOST, destroySocket, freePort, tcpPair } from './net'
import { withTimeout } from './rounds'

/** devp2p's own session timeout default (ping, handshake), kept as is. */
const DEVP2P_TIMEOUT_MS = 10_000
const CLIENT_ID = utf8ToBytes('ethp2p-bench')

export interface RlpxNode {
  rlpx: RLPx
  key: Uint8Array
  id: Uint8Array
  port?: number
}

export function rlpxNode(maxPeers: number): RlpxNode {
  const key = utils.randomSecretKey()
  const rlpx = new RLPx(key, {
    dpt: null,
    maxPeers,
    capabilities: withClientEth([ETH.eth68]),
    common: benchCommon(),
    listenPort: null,
    clientId: CLIENT_ID,
  })
  // Failures surface as Status timeouts in the bench; these events must not crash the process.
  rlpx.events.on('error', () => {})
  rlpx.events.on('peer:error', () => {})
  return { rlpx, key, id: getPublicKey(key, false).subarray(1) }
}

export async function listenRlpx(node: RlpxNode): Promise<number> {
  const port = await freePort()
  const listening = new Promise<void>((resolve) => node.rlpx.events.once('listening', () => resolve()))
  node.rlpx.listen(port, HOST)
  await withTimeout(listening, 5_000, 'RLPx listen')
  node.port = port
  return port
}

export function ethOf(peer: Devp2pPeer): ETH {
  const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)
  if (eth === undefined) throw new Error('devp2p session has no eth capability')
  return eth
}

/** Sends our Status and resolves once devp2p has both (it validates network id, genesis and fork id itself). */
export function rlpxStatus(peer: Devp2pPeer, source: StatusSource): Promise<void> {
  const eth = ethOf(peer)
  const done = new Promise<void>((resolve, reject) => {
    eth.events.once('status', () => resolve())
    peer.events.once('error', reject)
  })
  eth.sendStatus(source.devp2pStatus)
  return done
}

/** One devp2p session endpoint on a socket we own. */
export interface Devp2pEnd {
  peer: Devp2pPeer
  eth: ETH
  socket: Socket
}

function devp2pPeer(socket: Socket, key: Uint8Array, remoteId: Uint8Array | null): Devp2pPeer {
  const peer = new Devp2pPeer({
    socket,
    remoteId: remoteId as Uint8Array,
    privateKey: key,
    id: pk2id(getPublicKey(key, false)),
    timeout: DEVP2P_TIMEOUT_MS,
    clientId: CLIENT_ID,
    capabilities: withClientEth([ETH.eth68]),
    common: benchCommon(),
    port: 0,
  })
  peer.events.on('error', () => {})
  return peer
}

function helloDone(peer: Devp2pPeer): Promise<void> {
  return new Promise((resolve, reject) => {
    peer.events.once('connect', () => resolve())
    peer.events.once('close', () => reject(new Error('devp2p session closed before Hello')))
  })
}

/** Two devp2p sessions over loopback TCP with Hello and Status done; `close` disconnects and destroys both sockets. */
export async function devp2pPair(source: StatusSource): Promise<{ dialer: Devp2pEnd; listener: Devp2pEnd; close(): Promise<void> }> {
  const pair = await tcpPair()
  const lKey = utils.randomSecretKey()
  const dKey = utils.randomSecretKey()
  const lPeer = devp2pPeer(pair.listener, lKey, null)
  const dPeer = devp2pPeer(pair.dialer, dKey, pk2id(getPublicKey(lKey, false)))
  try {
    await withTimeout(Promise.all([helloDone(lPeer), helloDone(dPeer)]), 10_000, 'devp2p Hello')
    await withTimeout(Promise.all([rlpxStatus(lPeer, source), rlpxStatus(dPeer, source)]), 10_000, 'devp2p Status')
  } catch (err) {
    await pair.close()
    throw err
  }
  const end = (peer: Devp2pPeer, socket: Socket): Devp2pEnd => ({ peer, eth: ethOf(peer), socket })
  return {
    dialer: end(dPeer, pair.dialer),
    listener: end(lPeer, pair.listener),
    close: async () => {
      sendDisconnect(dPeer, pair.dialer, DISCONNECT_REASON.CLIENT_QUITTING)
      await Promise.all([destroySocket(pair.dialer), destroySocket(pair.listener)])
    },
  }
}
