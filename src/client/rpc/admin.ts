import { bytesToHex, bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'

import { DisconnectReason } from '../../p2p'
import { RLPX_CLIENT_ID } from '../net/server/rlpxserver'
import { parseEnode } from '../net/server/enode'

import { InvalidParamsError, RpcServerError } from './errors'
import { expectArgs, hexQuantity, text } from './params'

import type { Peer } from '../net/peer/peer'
import type { Enode } from '../net/server/enode'
import type { RpcContext, RpcMethods } from './context'

/** geth's node ID: keccak-256 of the 64-byte public key, as hex (the enode URL carries the key itself). */
export function gethNodeId(publicKeyHex: string): string {
  return bytesToUnprefixedHex(keccak_256(hexToBytes(`0x${publicKeyHex}`)))
}

/** `ethp2p/v0.1.0/linux-x64/node-v20.20.0`: geth's name/version/os-arch/runtime layout. */
export function clientVersion(): string {
  const bun = (process.versions as { bun?: string }).bun
  const runtime = bun === undefined ? `node-${process.version}` : `bun-v${bun}`
  return `${RLPX_CLIENT_ID}/${process.platform}-${process.arch}/${runtime}`
}

/** One admin_peers entry in geth's p2p.PeerInfo shape, plus our reputation `score`. */
export function peerInfo(peer: Peer, listenAddress: string): Record<string, unknown> {
  return {
    enode: `enode://${peer.id}@${peer.address}`,
    id: gethNodeId(peer.id),
    name: peer.clientName ?? '',
    caps: peer.capabilities,
    network: {
      // The modular stack does not expose a connection's local socket: an inbound one arrived on our listener.
      localAddress: peer.localAddress ?? (peer.inbound ? listenAddress : ''),
      remoteAddress: peer.address,
      inbound: peer.inbound,
      trusted: false,
      static: false,
    },
    protocols: { eth: peer.eth === undefined ? 'handshake' : { version: peer.eth.version } },
    score: peer.score,
  }
}

function enodeParam(value: unknown): Enode {
  const parsed = parseEnode(text(value, 0))
  if (typeof parsed === 'string') throw new InvalidParamsError(`0: ${parsed}`)
  return parsed
}

/** admin_*, net_* and web3_*: the node and its peers. */
export function adminMethods(ctx: RpcContext): RpcMethods {
  const { client } = ctx
  const config = client.config
  const ports = (): { discovery: number; listener: number } => {
    const enode = parseEnode(client.server.url)
    return typeof enode === 'string' ? { discovery: 0, listener: 0 } : { discovery: enode.udpPort, listener: enode.tcpPort }
  }
  const listenAddress = (): string => `${config.bindAddress}:${ports().listener}`
  return {
    admin_nodeInfo: (params) => {
      expectArgs(params, 0, 0)
      const head = client.chain.headers.latest
      return {
        id: gethNodeId(bytesToUnprefixedHex(config.nodeId)),
        name: clientVersion(),
        enode: client.server.url,
        ip: config.extIP,
        ports: ports(),
        listenAddr: listenAddress(),
        protocols: {
          eth: {
            network: Number(config.common.chainId()),
            difficulty: Number(client.chain.headers.td),
            genesis: bytesToHex(client.chain.genesis.hash()),
            config: { chainId: Number(config.common.chainId()) },
            head: bytesToHex(head.hash()),
          },
        },
      }
    },
    admin_peers: (params) => {
      expectArgs(params, 0, 0)
      return client.service.pool.peers.map((p) => peerInfo(p, listenAddress()))
    },
    admin_addPeer: (params) => {
      expectArgs(params, 1, 1)
      const parsed = enodeParam(params[0])
      if (!client.server.started) throw new RpcServerError('the node is not started')
      client.server.addPeer(parsed)
      return true
    },
    admin_removePeer: (params) => {
      expectArgs(params, 1, 1)
      const { idHex } = enodeParam(params[0])
      const peer = client.service.pool.peers.find((p) => p.id === idHex)
      if (peer !== undefined) void peer.disconnect(DisconnectReason.DISCONNECT_REQUESTED, 'admin_removePeer')
      return true
    },
    net_version: (params) => {
      expectArgs(params, 0, 0)
      return String(config.common.chainId())
    },
    net_listening: (params) => {
      expectArgs(params, 0, 0)
      return client.server.started
    },
    net_peerCount: (params) => {
      expectArgs(params, 0, 0)
      return hexQuantity(client.service.pool.size)
    },
    web3_clientVersion: (params) => {
      expectArgs(params, 0, 0)
      return clientVersion()
    },
  }
}
