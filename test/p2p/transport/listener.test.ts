import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection } from '../../../src/p2p/connection'
import { DisconnectReason } from '../../../src/p2p/rlpx'
import {
  EncryptionFailedError,
  LegacyRlpxPeerError,
  PeerDeniedError,
  UpgradeTimeoutError,
} from '../../../src/p2p/stack-errors'
import {
  DEFAULT_MAX_PENDING_HANDSHAKES,
  InboundRefusedError,
  InboundUpgradeError,
  ListenError,
  ListenerStateError,
  type TransportListener,
} from '../../../src/p2p/transport'
import { waitForEvent } from '../../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, expectResourcesBackTo, readAll, writeAll } from '../stack/helpers'
import { connectPair, listen, makeNode, type TestNode } from '../stack/nodes'

/**
 * More than the largest handshake packet accepted (2 KiB): whatever length the
 * random 2-byte EIP-8 prefix announces, the packet is either complete (and
 * fails to decrypt) or over the limit, so the failure never waits for a timeout.
 */
const GARBAGE_BYTES = 2100

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function listening(node: TestNode, opts?: Parameters<typeof listen>[1]): Promise<TransportListener> {
  const l = await listen(node, opts)
  cleanups.push(() => l.close())
  return l
}

/** Opens raw TCP sockets to the listener that never send a byte (they read, so they notice being dropped). */
async function idleSockets(l: TransportListener, n: number, ports: number[] = []): Promise<net.Socket[]> {
  const sockets: net.Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = net.connect(l.address().port, '127.0.0.1')
    s.on('error', () => {})
    s.resume()
    sockets.push(s)
    await waitForEvent(s, 'connect', { timeoutMs: EVENT_TIMEOUT_MS })
    ports.push(s.localPort!)
  }
  cleanups.push(() => sockets.forEach((s) => s.destroy()))
  return sockets
}

async function echoWorks(conn: Connection): Promise<void> {
  const stream = await conn.newStream('/echo/1')
  const data = randomBytes(10_000)
  const [got] = await Promise.all([readAll(stream), writeAll(stream, data)])
  expect(got.equals(data)).toBe(true)
}

function serverNode(opts: Parameters<typeof makeNode>[0] = {}): TestNode {
  const node = makeNode(opts)
  node.registrar.handle('/echo/1', echo)
  return node
}

describe('TransportListener lifecycle', () => {
  it('listens on an ephemeral port, reports its address and refuses state misuse', async () => {
    const b = serverNode()
    const l = b.transport.createListener()
    expect(() => l.address()).toThrow(ListenerStateError)
    await l.listen({ host: '127.0.0.1', port: 0 })
    expect(l.address().host).toBe('127.0.0.1')
    expect(l.address().port).toBeGreaterThan(0)
    await expect(l.listen({ host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(ListenerStateError)
    const closed = waitForEvent(l, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await l.close()
    await closed
    expect(() => l.address()).toThrow(ListenerStateError)
    await expect(l.listen({ host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(ListenerStateError)
  })

  it('reports a port in use as ListenError', async () => {
    const l1 = await listening(serverNode())
    const l2 = serverNode().transport.createListener()
    const err = await l2.listen(l1.address()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ListenError)
    expect((err as ListenError).code).toBe('ERR_TRANSPORT_LISTEN_FAILED')
  })

  it('close() closes every connection it produced and leaves no handle behind', async () => {
    const baseline = process.getActiveResourcesInfo()
    const a = makeNode()
    const b = serverNode()
    const l = await listen(b)
    const { out, inb } = await connectPair(a, b, l)
    expect(l.connections).toEqual([inb])
    const outClosed = waitForEvent(out, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const inClosed = waitForEvent(inb, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const listenerClosed = waitForEvent(l, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    await l.close()
    await Promise.all([outClosed, inClosed, listenerClosed])
    expect(inb.status).toBe('closed')
    expect(out.status).toBe('closed')
    expect(l.connections).toEqual([])
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })
})

describe('TransportListener failures and limits', () => {
  it('a handshake that never finishes times out with a typed error and the listener keeps accepting', async () => {
    // Small enough to keep the test short, large enough that the good peer's real
    // handshake afterwards (same listener, same limit) finishes even on a loaded machine.
    const b = serverNode({ handshakeTimeoutMs: 1_000 })
    const l = await listening(b)
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const [idle] = await idleSockets(l, 1)
    const [err] = await failed
    expect(err).toBeInstanceOf(InboundUpgradeError)
    expect(err.code).toBe('ERR_TRANSPORT_INBOUND_UPGRADE_FAILED')
    expect(err.cause).toBeInstanceOf(UpgradeTimeoutError)
    await waitForEvent(idle!, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    expect(l.pendingHandshakes).toBe(0)
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    await echoWorks(out)
  })

  it('garbage instead of an auth fails the upgrade with a typed error; good peers still connect', async () => {
    const b = serverNode()
    const l = await listening(b)
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const [garbage] = await idleSockets(l, 1)
    garbage!.write(randomBytes(GARBAGE_BYTES))
    const [err] = await failed
    expect(err.cause).toBeInstanceOf(EncryptionFailedError)
    expect(((err.cause as Error).cause as Error & { code: string }).code).toMatch(/^ERR_ECIES_/)
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    await echoWorks(out)
  })

  it("'refuse-new' drops sockets beyond maxPendingHandshakes at once", async () => {
    const b = serverNode()
    const l = await listening(b, { maxPendingHandshakes: 2, pendingOverflow: 'refuse-new' })
    const refused = waitForEvent<[InboundRefusedError]>(l, 'refused', { timeoutMs: EVENT_TIMEOUT_MS })
    const ports: number[] = []
    const sockets = await idleSockets(l, 3, ports)
    const [err] = await refused
    expect(err.reason).toBe('max-pending-handshakes')
    expect(err.remoteAddr.port).toBe(ports[2])
    await waitForEvent(sockets[2]!, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    expect(l.pendingHandshakes).toBe(2)
  })

  it("'drop-oldest' (default) evicts the oldest pending handshake so a good peer gets in during a flood", async () => {
    expect(DEFAULT_MAX_PENDING_HANDSHAKES).toBeGreaterThan(0)
    const b = serverNode()
    const l = await listening(b, { maxPendingHandshakes: 4 })
    const refusedPorts: number[] = []
    l.on('refused', (e: InboundRefusedError) => refusedPorts.push(e.remoteAddr.port))
    const floodPorts: number[] = []
    await idleSockets(l, 10, floodPorts)
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    await echoWorks(out)
    // The oldest idle sockets were the ones dropped, and the listener never held more than its limit.
    expect(refusedPorts.length).toBeGreaterThanOrEqual(7)
    expect(refusedPorts.slice(0, 6)).toEqual(floodPorts.slice(0, 6))
    expect(l.pendingHandshakes).toBeLessThanOrEqual(4)
  })

  it('maxConnections refuses sockets at accept once reached', async () => {
    const b = serverNode()
    const l = await listening(b, { maxConnections: 1 })
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    const refused = waitForEvent<[InboundRefusedError]>(l, 'refused', { timeoutMs: EVENT_TIMEOUT_MS })
    const second = await makeNode().transport.dial(l.address(), { remoteId: b.id }).catch((e: unknown) => e)
    expect(second).toBeInstanceOf(Error)
    expect((await refused)[0].reason).toBe('max-connections')
    await echoWorks(out)
  })

  it('the gater refuses banned addresses at accept and banned ids after the handshake', async () => {
    const banned = makeNode()
    let bannedHost = ''
    const b = serverNode({
      gater: {
        denyInboundSocket: (addr) => addr.host === bannedHost,
        denyInboundPeer: (id) => Buffer.from(id).equals(Buffer.from(banned.id)),
      },
    })
    const l = await listening(b)
    const peerDenied = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const e1 = await banned.transport.dial(l.address(), { remoteId: b.id }).catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(Error)
    const denial = (await peerDenied)[0].cause
    expect(denial).toBeInstanceOf(PeerDeniedError)
    expect((denial as PeerDeniedError).reason).toBe(DisconnectReason.USELESS_PEER)
    // A modular dialer is refused without an RLPx Disconnect frame, so it does not take us for an RLPx node.
    expect(e1).not.toBeInstanceOf(LegacyRlpxPeerError)
    expect(banned.upgrader.speaksRlpx(b.id)).toBe(false)

    bannedHost = '127.0.0.1'
    const refused = waitForEvent<[InboundRefusedError]>(l, 'refused', { timeoutMs: EVENT_TIMEOUT_MS })
    const e2 = await makeNode().transport.dial(l.address(), { remoteId: b.id }).catch((e: unknown) => e)
    expect(e2).toBeInstanceOf(Error)
    expect((await refused)[0].reason).toBe('gater')
  })

  it("does not throw when nobody listens for 'error'", async () => {
    const b = serverNode()
    const l = await listening(b)
    expect(l.listenerCount('error')).toBe(0)
    const [garbage] = await idleSockets(l, 1)
    garbage!.write(randomBytes(GARBAGE_BYTES))
    await waitForEvent(garbage!, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    const { out } = await connectPair(makeNode(), b, l)
    cleanups.push(() => closeConnection(out))
    await echoWorks(out)
  })
})
