import net from 'node:net'
import { getPublicKey, utils } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortError } from '../../../src/p2p/errors'
import { SelfConnectionError, UpgradeTimeoutError } from '../../../src/p2p/stack-errors'
import {
  DialDeniedError,
  DialError,
  InvalidRemoteIdError,
  SelfDialError,
  type TransportListener,
} from '../../../src/p2p/transport'
import { Upgrader } from '../../../src/p2p/upgrader'
import { nodeIdFromPrivateKey } from '../../../src/p2p/crypto'
import { Registrar } from '../../../src/p2p/registrar'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, expectResourcesBackTo } from '../stack/helpers'
import { connectPair, listen, makeNode } from '../stack/nodes'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A TCP server that accepts and never answers: a handshake that never finishes. It reads (and drops) so it sees EOF. */
async function silentServer(): Promise<{ port: number; sockets: net.Socket[]; server: net.Server }> {
  const sockets: net.Socket[] = []
  const server = net.createServer((s) => {
    sockets.push(s)
    s.on('error', () => {})
    s.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, sockets, server }
}

async function listening(node: ReturnType<typeof makeNode>): Promise<TransportListener> {
  const l = await listen(node)
  cleanups.push(() => l.close())
  return l
}

describe('node id', () => {
  it('is the uncompressed public key without 0x04, never the private key', () => {
    const privateKey = utils.randomSecretKey()
    const id = nodeIdFromPrivateKey(privateKey)
    expect(id).toHaveLength(64)
    expect(Buffer.from(id).equals(Buffer.from(getPublicKey(privateKey, false).subarray(1)))).toBe(true)
    expect(Buffer.from(id).subarray(0, 32).equals(Buffer.from(privateKey))).toBe(false)
    const upgrader = new Upgrader({ privateKey, registrar: new Registrar() })
    expect(Buffer.from(upgrader.localId).equals(Buffer.from(id))).toBe(true)
  })

  it('rejects malformed private keys without echoing them', () => {
    expect(() => nodeIdFromPrivateKey(new Uint8Array(31))).toThrow(RangeError)
    expect(() => nodeIdFromPrivateKey(new Uint8Array(32))).toThrow(/not a valid secp256k1 secret key/)
  })
})

describe('Transport.dial', () => {
  it('dials, authenticates the remote id and yields an outbound Connection', async () => {
    const a = makeNode()
    const b = makeNode()
    b.registrar.handle('/echo/1', echo)
    const l = await listening(b)
    const { out, inb } = await connectPair(a, b, l)
    cleanups.push(() => closeConnection(out))
    expect(out.direction).toBe('outbound')
    expect(inb.direction).toBe('inbound')
    expect(Buffer.from(out.remoteId).equals(Buffer.from(b.id))).toBe(true)
    expect(Buffer.from(inb.remoteId).equals(Buffer.from(a.id))).toBe(true)
    expect(out.remoteAddr).toEqual(l.address())
    expect(inb.remoteAddr.host).toBe('127.0.0.1')
  })

  it('refuses to dial its own id (derived from the public key) without opening a socket', async () => {
    const a = makeNode()
    const l = await listening(a)
    let accepted = 0
    l.on('connection', () => accepted++)
    const before = process.getActiveResourcesInfo()
    const err = await a.transport.dial(l.address(), { remoteId: a.id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SelfDialError)
    expect((err as SelfDialError).code).toBe('ERR_TRANSPORT_SELF_DIAL')
    expect(await expectResourcesBackTo(before)).toEqual([])
    expect(accepted).toBe(0)
    // A remote id that merely contains our private key bytes is not "self".
    const fake = new Uint8Array(64)
    fake.set(a.privateKey)
    const other = await a.transport.dial({ host: '127.0.0.1', port: 1 }, { remoteId: fake }).catch((e: unknown) => e)
    expect(other).not.toBeInstanceOf(SelfDialError)
  })

  it('refuses an inbound connection authenticated as our own id', async () => {
    const a = makeNode()
    const twin = makeNode({ privateKey: a.privateKey })
    const l = await listening(a)
    const failed = waitForEvent<[Error]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    // The twin's dial to "someone else's" id is refused as self too, so go below the transport.
    const socket = net.connect(l.address().port, '127.0.0.1')
    await waitForEvent(socket, 'connect', { rejectOn: 'error', timeoutMs: EVENT_TIMEOUT_MS })
    const { secureOutbound } = await import('../../../src/p2p/crypto')
    const secured = secureOutbound(socket, { privateKey: twin.privateKey, remoteId: a.id })
    const [err] = await failed
    expect((err as Error).cause).toBeInstanceOf(SelfConnectionError)
    const { stream } = await secured
    stream.on('error', () => {})
    stream.destroy()
    await waitForEvent(socket, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const dialErr = await twin.transport.dial(l.address(), { remoteId: a.id }).catch((e: unknown) => e)
    expect(dialErr).toBeInstanceOf(SelfDialError)
  })

  it('rejects a remote id of the wrong length', async () => {
    const a = makeNode()
    const err = await a.transport.dial({ host: '127.0.0.1', port: 1 }, { remoteId: new Uint8Array(65) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidRemoteIdError)
  })

  it('reports a refused TCP connect as DialError', async () => {
    const a = makeNode()
    const { port, server } = await silentServer()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const err = await a.transport.dial({ host: '127.0.0.1', port }, { remoteId: makeNode().id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DialError)
    expect((err as DialError).code).toBe('ERR_TRANSPORT_DIAL_FAILED')
  })

  it('honours the gater before dialing', async () => {
    const target = makeNode()
    const a = makeNode({ gater: { denyDial: (id) => Buffer.from(id).equals(Buffer.from(target.id)) } })
    const err = await a.transport.dial({ host: '127.0.0.1', port: 1 }, { remoteId: target.id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DialDeniedError)
  })

  it('times out a handshake the remote never answers, with a typed error and no leak', async () => {
    const baseline = process.getActiveResourcesInfo()
    const a = makeNode({ handshakeTimeoutMs: 100 })
    const { port, sockets } = await silentServer()
    const err = await a.transport.dial({ host: '127.0.0.1', port }, { remoteId: makeNode().id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpgradeTimeoutError)
    expect((err as UpgradeTimeoutError).code).toBe('ERR_UPGRADE_TIMEOUT')
    expect((err as UpgradeTimeoutError).phase).toBe('encryption')
    expect(sockets).toHaveLength(1)
    await waitForEvent(sockets[0]!, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    for (const c of cleanups.splice(0).reverse()) await c()
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })

  it('aborts during the TCP connect, during the handshake, and before starting', async () => {
    const baseline = process.getActiveResourcesInfo()
    const a = makeNode()
    const { port, server, sockets } = await silentServer()
    const remoteId = makeNode().id

    const duringConnect = new AbortController()
    const connecting = a.transport.dial({ host: '127.0.0.1', port }, { remoteId, signal: duringConnect.signal })
    duringConnect.abort()
    const e1 = await connecting.catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(AbortError)

    const duringHandshake = new AbortController()
    server.once('connection', () => duringHandshake.abort(new AbortError('test gave up')))
    const e2 = await a.transport
      .dial({ host: '127.0.0.1', port }, { remoteId, signal: duringHandshake.signal })
      .catch((e: unknown) => e)
    expect(e2).toBeInstanceOf(AbortError)
    expect((e2 as AbortError).message).toBe('test gave up')

    const e3 = await a.transport.dial({ host: '127.0.0.1', port }, { remoteId, signal: AbortSignal.abort() }).catch((e: unknown) => e)
    expect(e3).toBeInstanceOf(AbortError)

    await Promise.all(sockets.map((s) => (s.closed ? undefined : waitForEvent(s, 'close', { timeoutMs: EVENT_TIMEOUT_MS }))))
    for (const c of cleanups.splice(0).reverse()) await c()
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })
})

describe('Upgrader options', () => {
  it('rejects out-of-range muxer options at construction, with the muxer’s typed error', () => {
    const registrar = new Registrar()
    const privateKey = utils.randomSecretKey()
    expect(() => new Upgrader({ privateKey, registrar, maxInboundStreams: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_MPLEX_INVALID_OPTION' }),
    )
    expect(() => new Upgrader({ privateKey, registrar, handshakeTimeoutMs: -5 })).toThrow(RangeError)
  })
})

describe('TCP connect timeout', () => {
  it('defaults to DEFAULT_DIAL_TIMEOUT_MS (5 s) and keeps an explicit dialTimeoutMs (the client passes its own)', async () => {
    const { DEFAULT_DIAL_TIMEOUT_MS, Transport } = await import('../../../src/p2p/transport')
    const upgrader = new Upgrader({ privateKey: utils.randomSecretKey(), registrar: new Registrar() })
    expect(new Transport({ upgrader }).dialTimeoutMs).toBe(DEFAULT_DIAL_TIMEOUT_MS)
    expect(DEFAULT_DIAL_TIMEOUT_MS).toBe(5_000)
    expect(new Transport({ upgrader, dialTimeoutMs: 10_000 }).dialTimeoutMs).toBe(10_000)
    expect(() => new Transport({ upgrader, dialTimeoutMs: -1 })).toThrow(RangeError)
  })

  it('a connect that never completes fails with DialTimeoutError and the socket is destroyed', async () => {
    const { connectTcp } = await import('../../../src/p2p/transport/connect')
    const { DialTimeoutError, DEFAULT_DIAL_TIMEOUT_MS } = await import('../../../src/p2p/transport')
    expect(DEFAULT_DIAL_TIMEOUT_MS).toBe(5_000)
    let socket: net.Socket | undefined
    const err = await connectTcp({ host: '127.0.0.1', port: 9 }, 30, undefined, () => (socket = new net.Socket())).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(DialTimeoutError)
    expect((err as InstanceType<typeof DialTimeoutError>).code).toBe('ERR_TRANSPORT_DIAL_TIMEOUT')
    expect(socket?.destroyed).toBe(true)
  })
})
