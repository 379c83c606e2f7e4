/**
 * Our side at the stack level: Transport → Upgrader (ECIES, mplex) →
 * Connection → Registrar, with the ETH session on one negotiated stream
 * framed by the client's StreamSender (wire format in docs/ARCHITECTURE.md).
 */
import { utils } from '@noble/secp256k1'

import type { EthStatus } from '../../src/client/net/protocol/ethmessages'
import type { MessageMeter } from '../../src/client/net/protocol/meter'
import { StreamSender } from '../../src/client/net/protocol/streamsender'
import {
  type Connection,
  type MuxedStream,
  Registrar,
  Transport,
  type TransportListener,
  Upgrader,
  type UpgraderOptions,
} from '../../src/p2p'
import { HOST } from './net'
import type { StatusSource } from './chain'

export const ETH68 = '/eth/68/1.0.0'

export interface StackNode {
  privateKey: Uint8Array
  id: Uint8Array
  registrar: Registrar
  upgrader: Upgrader
  transport: Transport
}

export function stackNode(opts: Partial<Omit<UpgraderOptions, 'registrar'>> = {}): StackNode {
  const privateKey = opts.privateKey ?? utils.randomSecretKey()
  const registrar = new Registrar()
  const upgrader = new Upgrader({ ...opts, privateKey, registrar })
  return { privateKey, id: upgrader.localId, registrar, upgrader, transport: new Transport({ upgrader }) }
}

/**
 * A node that only dials eth: its Registrar still lists /eth/68/1.0.0 (an
 * RLPx Hello offers the Registrar's protocols, and either side of an RLPx
 * session may use a capability); a stream the remote opens is refused.
 */
export function ethDialerNode(): StackNode {
  const node = stackNode()
  node.registrar.handle(ETH68, (stream) => stream.reset())
  return node
}

export async function stackListener(node: StackNode): Promise<{ listener: TransportListener; port: number }> {
  const listener = node.transport.createListener()
  await listener.listen({ host: HOST, port: 0 })
  return { listener, port: listener.address().port }
}

/**
 * Sends our Status on `sender` and resolves once the remote's arrived and
 * passed the same validation the client applies (network id, genesis, fork id).
 */
export function exchangeStatus(sender: StreamSender, source: StatusSource): Promise<EthStatus> {
  return new Promise((resolve, reject) => {
    const onClose = (reason?: Error): void => reject(reason ?? new Error('eth stream closed before Status'))
    sender.once('close', onClose)
    sender.once('error', reject)
    sender.once('status', (status) => {
      sender.off('close', onClose)
      sender.off('error', reject)
      try {
        source.protocol.validateStatus(status, sender.version)
        resolve(status)
      } catch (err) {
        reject(err)
      }
    })
    sender.sendStatus(source.status)
  })
}

/** `meter`: what the sender reports its messages to (the metrics bench); none by default. */
export function ethSender(stream: MuxedStream, meter?: MessageMeter): StreamSender {
  return new StreamSender(stream, { version: 68, meter })
}

/** Dials, opens the ETH stream and completes the Status exchange from the dialer's side. */
export async function dialEth(
  node: StackNode,
  port: number,
  remoteId: Uint8Array,
  source: StatusSource,
  meter?: MessageMeter,
): Promise<{ conn: Connection; sender: StreamSender; stream: MuxedStream }> {
  const conn = await node.transport.dial({ host: HOST, port }, { remoteId })
  try {
    const stream = await conn.newStream([ETH68])
    const sender = ethSender(stream, meter)
    await exchangeStatus(sender, source)
    return { conn, sender, stream }
  } catch (err) {
    conn.abort(err as Error)
    throw err
  }
}

/** Closes a connection gracefully and waits until both the socket and the muxer are gone. */
export async function closeConnection(conn: Connection): Promise<void> {
  if (conn.status === 'closed') return
  await conn.close()
}

/** Both ends of one P2P ETH session over loopback, Status done; `close` shuts both nodes down. */
export interface EthPair {
  dialer: { conn: Connection; sender: StreamSender; stream: MuxedStream }
  listener: { sender: StreamSender; stream: MuxedStream }
  close(): Promise<void>
}

/** `meters`: one per end, for the metrics bench; none by default. `carrier: 'rlpx'`: the dialer dials the server as an RLPx node. */
export async function p2pEthPair(
  source: StatusSource,
  meters?: { dialer: MessageMeter; listener: MessageMeter },
  carrier: 'mplex' | 'rlpx' = 'mplex',
): Promise<EthPair> {
  const server = stackNode()
  let accepted!: (v: { sender: StreamSender; stream: MuxedStream }) => void
  let failed!: (err: unknown) => void
  const inbound = new Promise<{ sender: StreamSender; stream: MuxedStream }>((resolve, reject) => {
    accepted = resolve
    failed = reject
  })
  server.registrar.handle(ETH68, (stream) => {
    const sender = ethSender(stream, meters?.listener)
    exchangeStatus(sender, source).then(() => accepted({ sender, stream }), failed)
  })
  const { listener, port } = await stackListener(server)
  try {
    const client = ethDialerNode()
    if (carrier === 'rlpx') client.upgrader.rememberRlpx(server.id)
    const { conn, sender, stream } = await dialEth(client, port, server.id, source, meters?.dialer)
    return {
      dialer: { conn, sender, stream },
      listener: await inbound,
      close: async () => {
        await closeConnection(conn)
        await listener.close()
      },
    }
  } catch (err) {
    await listener.close()
    throw err
  }
}
