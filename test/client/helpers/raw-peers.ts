/**
 * Hand-made ETH remotes for node-level tests: a raw ETH stream over the P2P
 * stack and a raw devp2p RLPx session. Unlike a client peer they send exactly
 * what the test says, when it says (Status and requests in one write, an old
 * eth version only), and they keep every message the node sends them.
 */
import { EventEmitter } from 'node:events'
import { type AddressInfo, type Server, connect, createServer } from 'node:net'

import { ETH, Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { hexToBytes, utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'

import { EthCode, type EthMessage, type EthStatus, decodeEthPayload, encodeStatus, hasBlockRange } from '../../../src/client/net/protocol/ethmessages'
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
  /** Sends `messages` back to back, in one write (after sendAll). */
  send(messages: readonly [number, Input][]): void
  /** The first message with `code` the node sent (already received or still to come), decoded. */
  next(code: number): Promise<EthMessage>
  /**
   * Resolves once the node ended the session: with the reason code of its
   * devp2p Disconnect on RLPx (undefined without one), always undefined on a
   * stream (mplex carries no reason). Never rejects.
   */
  readonly ended: Promise<number | undefined>
  /** True until the session ended. */
  readonly open: boolean
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

/** `uvarint(n) || code || RLP(payload)`: one message on an ETH stream (docs/ARCHITECTURE.md, wire formats). */
function frame(code: number, payload: Input): Uint8Array {
  const rlp = RLP.encode(payload)
  return Buffer.concat([encodeUvarint(1 + rlp.length), Uint8Array.of(code), rlp])
}

/** An ETH stream of `version` to the node at `url`, over a connection of our own P2P stack. */
export async function rawStreamSession(url: string, version: number, common: Common): Promise<RawEthSession> {
  const upgrader = new Upgrader({ privateKey: secp.randomSecretKey(), registrar: new Registrar() })
  const conn = await new Transport({ upgrader }).dial({ host: '127.0.0.1', port: enodeTcpPort(url) }, { remoteId: hexToBytes(`0x${enodeId(url)}`) })
  const stream = await conn.newStream([`/eth/${version}/1.0.0`])
  let open = true
  const ended = new Promise<undefined>((resolve) => conn.once('close', () => resolve(undefined))).finally(() => (open = false))
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
    ended,
    get open() {
      return open
    },
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
    let open = true
    const ended = disconnectReason(peer, socket).finally(() => (open = false))
    await nextEvent(peer.events, 'connect')
    const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)
    if (eth === undefined) throw new Error(`the node shares no eth/${version} with us`)
    const inbox = new Inbox(version, common)
    eth.events.on('message', (code: number, payload: unknown) => inbox.add(code, payload as Parameters<typeof decodeEthPayload>[1]))
    return {
      version,
      sendAll(status, messages) {
        if (hasBlockRange(status)) throw new Error(`devp2p's ETH sends eth/66-68 Status only, not eth/${status.version}`)
        // Corked: every frame leaves in one write (one segment on loopback).
        socket.cork()
        eth.sendStatus({ td: uintBytes(status.td), bestHash: status.bestHash, genesisHash: status.genesisHash })
        for (const [code, payload] of messages) eth.sendMessage(code as never, payload as never)
        socket.uncork()
      },
      send(messages) {
        socket.cork()
        for (const [code, payload] of messages) eth.sendMessage(code as never, payload as never)
        socket.uncork()
      },
      next: (code) => inbox.next(code),
      ended,
      get open() {
        return open
      },
      close,
    }
  } catch (err) {
    await close()
    throw new Error(`raw RLPx session failed: ${String(err)}; ${errors.map((e) => e.message).join('; ')}`)
  }
}

/**
 * The reason code of the Disconnect `peer` received from the node (undefined:
 * none), once its socket closed. devp2p reports it on 'close' (emitted from
 * its own socket 'close' listener, which runs before this one).
 */
function disconnectReason(peer: Devp2pPeer, socket: Socket): Promise<number | undefined> {
  return new Promise((resolve) => {
    let reason: number | undefined
    peer.events.once('close', (code: number | undefined, weEnded: boolean | null) => {
      if (weEnded === false) reason = code
    })
    socket.once('close', () => resolve(reason))
  })
}

/** What a bare devp2p remote saw of a session the node ended. */
export interface ForgedHelloOutcome {
  /** Reason code of the node's Disconnect; undefined if the node closed without one. */
  reason: number | undefined
  /** The node sent its Hello (it did not just drop the connection). */
  gotHello: boolean
  /** eth messages (Status included) the node sent: none may reach a refused remote. */
  ethMessages: number
}

export interface ForgedHelloOptions {
  /** The remote's real key: its ECIES handshake proves this one. */
  key: Uint8Array
  /** The id its Hello names instead (another node's, 65 bytes, the id twice, ...). */
  helloId: Uint8Array
  common: Common
  /** eth messages ([code, payload]) to send right behind the Hello, Status first (e.g. a node's own Status, then a malformed request). */
  behindHello?: (eth: ETH) => void
}

/**
 * A bare @ethereumjs/devp2p peer run as an impersonator: it completes the
 * ECIES handshake with its own key, then its Hello names `helloId`. devp2p
 * builds the auth from the key in its constructor and the Hello from
 * `peer.id` when it sends it, so swapping `id` in between is all it takes.
 */
function forgedHelloPeer(socket: Socket, remoteId: Uint8Array | null, opts: ForgedHelloOptions): { peer: Devp2pPeer; outcome: Promise<ForgedHelloOutcome> } {
  const peer = new Devp2pPeer({
    socket,
    remoteId: remoteId as Uint8Array,
    privateKey: opts.key,
    id: getPublicKey(opts.key, false).subarray(1),
    timeout: 20_000,
    clientId: utf8ToBytes('impostor'),
    capabilities: withClientEth([ETH.eth68]),
    common: opts.common,
    port: 0,
  })
  ;(peer as { id: Uint8Array }).id = opts.helloId
  peer.events.on('error', () => undefined) // a refused session is what these peers provoke
  let ethMessages = 0
  peer.events.once('connect', () => {
    const eth = peer.getProtocols().find((p): p is ETH => p instanceof ETH)
    if (eth === undefined) return
    eth.events.on('message', () => void ethMessages++)
    eth.events.on('status', () => void ethMessages++)
    socket.cork()
    opts.behindHello?.(eth)
    socket.uncork()
  })
  const outcome = disconnectReason(peer, socket).then((reason) => ({ reason, gotHello: peer.getHelloMessage() !== null, ethMessages }))
  return { peer, outcome }
}

/** An impersonator dialing the node at `url`; resolves with what it saw once the node closed the connection. */
export async function dialWithForgedHello(url: string, opts: ForgedHelloOptions): Promise<ForgedHelloOutcome> {
  const socket = connect(enodeTcpPort(url), '127.0.0.1')
  socket.on('error', () => undefined)
  await nextEvent(socket, 'connect')
  return forgedHelloPeer(socket, hexToBytes(`0x${enodeId(url)}`), opts).outcome
}

/** An impersonator waiting to be dialed: its enode URL names its real key, its Hello does not. */
export interface ForgedHelloListener {
  url: string
  /**
   * What it saw of the first connection on which the node ran RLPx (sent its
   * Hello). A P2P node's first dial proposes multistream-select instead, and
   * redials as RLPx once the forged Hello answers it.
   */
  outcome: Promise<ForgedHelloOutcome>
  close(): Promise<void>
}

export async function listenWithForgedHello(opts: ForgedHelloOptions): Promise<ForgedHelloListener> {
  const sockets = new Set<Socket>()
  let settle: ((o: ForgedHelloOutcome) => void) | undefined
  const outcome = new Promise<ForgedHelloOutcome>((resolve) => (settle = resolve))
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => sockets.delete(socket))
    void forgedHelloPeer(socket, null, opts).outcome.then((o) => {
      if (o.gotHello) settle?.(o)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const id = Buffer.from(getPublicKey(opts.key, false).subarray(1)).toString('hex')
  return {
    url: `enode://${id}@127.0.0.1:${port}?discport=0`,
    outcome,
    async close() {
      await Promise.all([...sockets].map(destroy))
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function destroy(socket: Socket): Promise<void> {
  if (socket.closed) return
  const closed = nextEvent(socket, 'close')
  socket.destroy()
  await closed
}
