import { utils } from '@noble/secp256k1'
import type { Connection } from '../../../src/p2p/connection'
import { Registrar } from '../../../src/p2p/registrar'
import { Transport, type ListenerOptions, type TransportListener } from '../../../src/p2p/transport'
import { Upgrader, type UpgraderOptions } from '../../../src/p2p/upgrader'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS } from './helpers'

export interface TestNode {
  privateKey: Uint8Array
  id: Uint8Array
  registrar: Registrar
  upgrader: Upgrader
  transport: Transport
}

export function makeNode(opts: Partial<Omit<UpgraderOptions, 'registrar'>> & { dialTimeoutMs?: number } = {}): TestNode {
  const privateKey = opts.privateKey ?? utils.randomSecretKey()
  const registrar = new Registrar()
  const upgrader = new Upgrader({ ...opts, privateKey, registrar })
  const transport = new Transport({ upgrader, dialTimeoutMs: opts.dialTimeoutMs })
  return { privateKey, id: upgrader.localId, registrar, upgrader, transport }
}

export async function listen(node: TestNode, opts: ListenerOptions = {}): Promise<TransportListener> {
  const listener = node.transport.createListener(opts)
  await listener.listen({ host: '127.0.0.1', port: 0 })
  return listener
}

/** Dials `to` through its listener and returns both ends of the connection. */
export async function connectPair(
  from: TestNode,
  to: TestNode,
  listener: TransportListener,
): Promise<{ out: Connection; inb: Connection }> {
  const inbound = waitForEvent<[Connection]>(listener, 'connection', { timeoutMs: EVENT_TIMEOUT_MS })
  const out = await from.transport.dial(listener.address(), { remoteId: to.id })
  const [inb] = await inbound
  return { out, inb }
}

