import net from 'node:net'
import { utils, getPublicKey } from '@noble/secp256k1'
import { Connection, type ConnectionInit } from '../../../src/p2p/connection'
import { Registrar } from '../../../src/p2p/registrar'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS } from './helpers'

/**
 * Two ends of one real TCP connection on 127.0.0.1. The listening handle is
 * closed at once (net.Server's close callback would wait for the accepted
 * socket, so it is not awaited).
 */
export async function tcpPair(): Promise<{ a: net.Socket; b: net.Socket }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = waitForEvent<[net.Socket]>(server, 'connection', { timeoutMs: EVENT_TIMEOUT_MS })
  const { port } = server.address() as net.AddressInfo
  const a = net.connect(port, '127.0.0.1')
  await waitForEvent(a, 'connect', { rejectOn: 'error', timeoutMs: EVENT_TIMEOUT_MS })
  const [b] = await accepted
  server.close()
  return { a, b }
}

export function randomId(): Uint8Array {
  return getPublicKey(utils.randomSecretKey(), false).slice(1)
}

export type ConnOptions = Partial<Pick<ConnectionInit, 'streamNegotiationTimeoutMs' | 'closeTimeoutMs' | 'muxer'>>

/**
 * Connections straight over a TCP pair, without the secure channel: the
 * Connection's own logic (stream negotiation, limits, handlers, close) is
 * tested here independently of ECIES; the full stack is tested elsewhere.
 */
export async function connectionPair(
  opts: { dialer?: ConnOptions; listener?: ConnOptions } = {},
): Promise<{ out: Connection; inb: Connection; outRegistrar: Registrar; inRegistrar: Registrar }> {
  const { a, b } = await tcpPair()
  const outRegistrar = new Registrar()
  const inRegistrar = new Registrar()
  const out = new Connection({
    ...opts.dialer,
    remoteId: randomId(),
    remoteAddr: { host: '127.0.0.1', port: b.localPort ?? 0 },
    direction: 'outbound',
    socket: a,
    stream: a,
    registrar: outRegistrar,
  })
  const inb = new Connection({
    ...opts.listener,
    remoteId: randomId(),
    remoteAddr: { host: '127.0.0.1', port: a.localPort ?? 0 },
    direction: 'inbound',
    socket: b,
    stream: b,
    registrar: inRegistrar,
  })
  return { out, inb, outRegistrar, inRegistrar }
}
