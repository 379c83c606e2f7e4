import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EciesError,
  EncryptionFailedError,
  InboundUpgradeError,
  SelfConnectionError,
  SelfDialError,
  UpgradeError,
  secureOutbound,
  type Connection,
  type TransportListener,
} from '../../src/p2p'
import { InitiatorHandshake } from '../../src/p2p/crypto/handshake-state'
import { LEGACY_ACK_BODY_SIZE } from '../../src/p2p/crypto/messages'
import { takePacket } from '../../src/p2p/crypto/packets'
import { MAX_HANDSHAKE_PACKET_SIZE } from '../../src/p2p/crypto/limits'
import { idToPublicKey, keyPairFromPrivateKey, type KeyPair } from '../../src/p2p/crypto/secp256k1'
import { waitForEvent } from '../../src/p2p/util/events'
import { EVENT_TIMEOUT_MS, closeConnection, echo, readAll, writeAll } from '../p2p/stack/helpers'
import { connectPair, listen, makeNode, type TestNode } from '../p2p/stack/nodes'

/**
 * Issue 6, item 7 at the stack level: nobody gets a Connection under an id
 * whose key it does not hold, and a node never connects to itself.
 * (Duplicates, bans and maxPeers are node policy: security-client.test.ts.)
 */

const ECHO = '/echo/1.0.0'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function serving(): Promise<{ b: TestNode; l: TransportListener; accepted: Connection[]; failures: InboundUpgradeError[] }> {
  const b = makeNode()
  b.registrar.handle(ECHO, echo)
  const l = await listen(b)
  cleanups.push(() => l.close())
  const accepted: Connection[] = []
  const failures: InboundUpgradeError[] = []
  l.on('connection', (c: Connection) => accepted.push(c))
  l.on('error', (e: InboundUpgradeError) => failures.push(e))
  return { b, l, accepted, failures }
}

async function rawSocket(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  cleanups.push(() => void s.destroy())
  await waitForEvent(s, 'connect', { timeoutMs: EVENT_TIMEOUT_MS, rejectOn: 'error' })
  return s
}

/** Codes along an error's cause chain. */
function codes(err: unknown): string[] {
  const out: string[] = []
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') out.push(code)
  }
  return out
}

async function echoWorks(conn: Connection): Promise<void> {
  const stream = await conn.newStream(ECHO)
  const data = randomBytes(4096)
  const [got] = await Promise.all([readAll(stream), writeAll(stream, data)])
  expect(got.equals(data)).toBe(true)
}

describe('impersonation', () => {
  it('an auth naming another node id, signed without its key, never becomes a connection', async () => {
    const { b, l, accepted, failures } = await serving()
    const victim = makeNode()
    const attackerKey = randomBytes(32)
    const attacker = keyPairFromPrivateKey(attackerKey)
    // Claims the victim's public key; everything it can compute uses its own private key.
    const claimed: KeyPair = {
      privateKey: attackerKey,
      publicKey: idToPublicKey(victim.id),
      agree: (remote) => attacker.agree(remote),
    }
    const socket = await rawSocket(l.address().port)
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const ackBytes = waitForEvent<[Buffer]>(socket, 'data', { timeoutMs: EVENT_TIMEOUT_MS })
    socket.write(new InitiatorHandshake(claimed, idToPublicKey(b.id)).authPacket)
    // The listener answers (it cannot tell yet), but its ack is sealed for the victim's key.
    const [ack] = await ackBytes
    expect(() => takePacket(ack, attacker, LEGACY_ACK_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)).toThrow(EciesError)
    // Without the session secrets, whatever the attacker sends next fails authentication.
    socket.write(randomBytes(256))
    const [err] = await failed
    expect(err).toBeInstanceOf(InboundUpgradeError)
    expect(codes(err).some((c) => c.startsWith('ERR_ECIES_'))).toBe(true)
    await waitForEvent(socket, 'close', { timeoutMs: EVENT_TIMEOUT_MS })
    expect(accepted).toEqual([])
    expect(failures).toHaveLength(1)
    // The real holder of that id still connects.
    const { out } = await connectPair(victim, b, l)
    cleanups.push(() => closeConnection(out))
    expect(Buffer.from(accepted[0]!.remoteId).equals(Buffer.from(victim.id))).toBe(true)
    await echoWorks(out)
  })

  it('a dial expecting another node id than the one listening fails with a typed error on both sides', async () => {
    const { b, l, accepted } = await serving()
    const a = makeNode()
    const someoneElse = makeNode()
    const inboundFailed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const err = await a.transport.dial(l.address(), { remoteId: someoneElse.id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpgradeError)
    expect(err).toBeInstanceOf(EncryptionFailedError)
    const [inbound] = await inboundFailed
    expect(codes(inbound).some((c) => c.startsWith('ERR_ECIES_'))).toBe(true)
    expect(accepted).toEqual([])
    // With the right id, the same dialer gets in.
    const { out } = await connectPair(a, b, l)
    cleanups.push(() => closeConnection(out))
    await echoWorks(out)
  })
})

describe('self-connections', () => {
  it('a node refuses to dial its own id before opening a socket', async () => {
    const { b, l } = await serving()
    const err = await b.transport.dial(l.address(), { remoteId: b.id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SelfDialError)
  })

  it('a node refuses an inbound connection authenticated as its own id (a clone of its key)', async () => {
    const { b, l, accepted } = await serving()
    const failed = waitForEvent<[InboundUpgradeError]>(l, 'error', { timeoutMs: EVENT_TIMEOUT_MS })
    const socket = await rawSocket(l.address().port)
    const secured = secureOutbound(socket, { privateKey: b.privateKey, remoteId: b.id })
    const [err] = await failed
    expect(err.cause).toBeInstanceOf(SelfConnectionError)
    const { stream } = await secured
    stream.on('error', () => {})
    stream.destroy()
    expect(accepted).toEqual([])
  })
})
