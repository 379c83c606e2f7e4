/**
 * Hand-made ETH remotes for node-level tests: a raw ETH stream over the P2P
 * stack and a raw devp2p RLPx session. Unlike a client peer they send exactly
 * what the test says, when it says (Status and requests in one write, an old
 * eth version only), and they keep every message the node sends them.
 */
import { EventEmitter } from 'node:events'
import { connect } from 'node:net'

import { ETH, Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { hexToBytes, utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'

import { EthCode, type EthMessage, type EthStatus, decodeEthPayload, encodeStatus } from '../../../src/client/net/protocol/ethmessages'
import { uintBytes } from '../../../src/client/net/protocol/rlpfields'
import { withClientEth } from '../../../src/client/net/server/rlpx/devp2p'
import { LengthPrefixedDecoder, Registrar, Transport, Upgrader, encodeUvarint } from '../../../src/p2p'
import { enodeId, enodeTcpPort } from './nodes'
import { nextEvent, waitUntil } from './waits'

import type { Common } from '@ethereumjs/common'
import type { Input } from '@ethereumjs/rlp'
import type { Socket } from 'node:net'

/** One ETH session with a node, driven by the test. */
export interface RawEthSession {
  readonly version: number
  /** Sends our Status and then `messages` ([code, payload]) back to back, in one write. */
  sendAll(status: EthStatus, messages: readonly [number, Input][]): void
  /** Sends `messages` ([code, payload]) after the Status exchange, back to back. */
  send(messages: readonly [number, Input][]): void
  /** The first message with `code` the node sent (already received or still to come), decoded. */
  next(code: number): Promise<EthMessage>
  close(): Promise<void>
}

/** What a session has received, by code, in arrival order. */
class Inbox {
  private readonly got = new Map<number, EthMessage[]>()
  private readonly arrivals = new EventEmitter()
  private readonly ctx: { version: number; common: Common }

  constructor(version: number, common: Common) {
    this.ctx = { version, common }
  }

  add(code: number, payload: Parameters<typeof decodeEthPayload>[1]): void {
    if (code === EthCode.Status) return // the node's Status is not what the tests ask about
    const list = this.got.get(code) ?? []
    list.push(decodeEthPayload(code, payload, this.ctx))
    this.got.set(code, list)
    this.arrivals.emit('message')
  }

  async next(code: number): Promise<EthMessage> {
    const queued = (): EthMessage[] => this.got.get(code) ?? []
    await waitUntil([this.arrivals], ['message'], () => queued().length > 0, { describe: () => `no message 0x${code.toString(16)} from the node` })
    return queued().shift() as EthMessage
  }
}

/** `uvarint(n) || code || RLP(payload)`: one message on an ETH stream (DESIGN section 3). */
function frame(code: number, payload: Input): Uint8Array {
  const rlp = RLP.encode(payload)
  return Buffer.concat([encodeUvarint(1 + rlp.length), Uint8Array.of(code), rlp])
}

/** An ETH stream of `version` to the node at `url`, over a connection of our own P2P stack. */
export async function rawStreamSession(url: string, version: number, common: Common): Promise<RawEthSession> {
  const upgrader = new Upgrader({ privateKey: secp.randomSecretKey(), registrar: new Registrar() })
  const conn = await new Transport({ upgrader }).dial({ host: '127.0.0.1', port: enodeTcpPort(url) }, { remoteId: hexToBytes(`0x${enodeId(url)}`) })
  const stream = await conn.newStream([`/eth/${version}/1.0.0`])
  const inbox = new Inbox(version, common)
  const decoder = new LengthPrefixedDecoder({ maxLength: 10 * 1024 * 1024 })
  stream.on('data', (chunk: Uint8Array) => {
    for (const msg of decoder.push(chunk)) inbox.add(msg[0]!, msg.subarray(1))
  })
  return {
    version,
    sendAll(status, messages) {
      stream.write(Buffer.concat([frame(EthCode.Status, encodeStatus(status)), ...messages.map(([code, payload]) => frame(code, payload))]))
    },
    send(messages) {
      stream.write(Buffer.concat(messages.map(([code, payload]) => frame(code, payload))))
    },
    next: (code) => inbox.next(code),
    close: () => conn.close(),
  }
}

const DEVP2P_ETH: Record<number, typeof ETH.eth68> = { 66: ETH.eth66, 67: ETH.eth67, 68: ETH.eth68 }

/** A devp2p RLPx session offering only eth/`version` to the node at `url`, past Hello. */
export async function rawRlpxSession(url: string, version: number, common: Common): Promise<RawEthSession> {
  const socket = connect(enodeTcpPort(url), '127.0.0.1')
  const errors: Error[] = []
  // A failure shows up as a missing reply (with these in the message); the listener keeps it from being thrown.
  socket.on('error', (err) => void errors.push(err))
  const close = (): Promise<void> => destroy(socket)
  try {
    await nextEvent(socket, 'connect')
    const key = secp.randomSecretKey()
    const peer = new Devp2pPeer({
      socket,
      remoteId: hexToBytes(`0x${enodeId(url)}`),
      privateKey: key,
      id: getPublicKey(key, false).subarray(1),
      timeout: 20_000,
      clientId: utf8ToBytes('raw-test-peer'),
      capabilities: withClientEth([DEVP2P_ETH[version]!]),
      common,
      port: 0,
    })
    peer.events.on('error', (err: Error) => void errors.push(err))
    await nextEvent(peer.events, 'connect')
    const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)
    if (eth === undefined) throw new Error(`the node shares no eth/${version} with us`)
    const inbox = new Inbox(version, common)
    eth.events.on('message', (code: number, payload: unknown) => inbox.add(code, payload as Parameters<typeof decodeEthPayload>[1]))
    return {
      version,
      sendAll(status, messages) {
        // Corked: every frame leaves in one write (one segment on loopback).
        socket.cork()
        eth.sendStatus({ td: uintBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash })
        for (const [code, payload] of messages) eth.sendMessage(code as never, payload as never)
        socket.uncork()
      },
      send(messages) {
        for (const [code, payload] of messages) eth.sendMessage(code as never, payload as never)
      },
      next: (code) => inbox.next(code),
      close,
    }
  } catch (err) {
    await close()
    throw new Error(`raw RLPx session failed: ${String(err)}; ${errors.map((e) => e.message).join('; ')}`)
  }
}

async function destroy(socket: Socket): Promise<void> {
  if (socket.closed) return
  const closed = nextEvent(socket, 'close')
  socket.destroy()
  await closed
}
