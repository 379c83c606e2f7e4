import { afterEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_INBOUND_FRAME_SIZE,
  DecryptError,
  EciesError,
  FrameMacError,
  FrameTooLargeError,
  HandshakeAbortedError,
  HandshakeClosedError,
  HandshakeTimeoutError,
  HandshakeTooLargeError,
  InvalidKeyError,
  InvalidOptionError,
  secureInbound,
  secureOutbound,
} from '../../../src/p2p/crypto/index'
import { closed, duplexPair, errorOf, nodeKey, randomBytes, securedPair, settle, within } from './helpers'

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn()
})
function track(...items: Array<{ destroy(): unknown }>): void {
  cleanup.push(() => items.forEach((e) => e.destroy()))
}

async function rejection(p: Promise<unknown>, what: string): Promise<EciesError> {
  const err = await within(
    p.then(
      () => {
        throw new Error(`${what} unexpectedly succeeded`)
      },
      (e: unknown) => e,
    ),
    10_000,
    what,
  )
  expect(err).toBeInstanceOf(EciesError)
  return err as EciesError
}

describe('ECIES bad input', () => {
  it('random bytes instead of an auth: DecryptError, socket destroyed', async () => {
    const key = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    const inbound = secureInbound(y, { privateKey: key.privateKey })
    const junk = randomBytes(600)
    junk[0] = 0x01 // a plausible EIP-8 size prefix (0x01xx), so the bytes are read and tried
    junk[1] = 0x90
    x.write(junk)
    const err = await rejection(inbound, 'inbound')
    expect(err).toBeInstanceOf(DecryptError)
    expect(err.code).toBe('ERR_ECIES_DECRYPT')
    await within(closed(y), 5000, 'socket close')
    expect(y.destroyed).toBe(true)
  })

  it('an auth size prefix over the limit: HandshakeTooLargeError before buffering it', async () => {
    const key = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    const inbound = secureInbound(y, { privateKey: key.privateKey })
    x.write(Uint8Array.of(0xff, 0xff))
    const err = await rejection(inbound, 'inbound')
    expect(err).toBeInstanceOf(HandshakeTooLargeError)
    expect(err.code).toBe('ERR_ECIES_HANDSHAKE_TOO_LARGE')
    expect(y.destroyed).toBe(true)
  })

  it('a real auth over a configured maxHandshakePacketSize: HandshakeTooLargeError', async () => {
    const a = nodeKey()
    const b = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    // an EIP-8 auth is at least 2 + 113 + 169 (RLP) + 100 (padding) bytes
    const inbound = secureInbound(y, { privateKey: b.privateKey, maxHandshakePacketSize: 300 })
    const outbound = secureOutbound(x, { privateKey: a.privateKey, remoteId: b.id })
    expect(await rejection(inbound, 'inbound')).toBeInstanceOf(HandshakeTooLargeError)
    expect(await rejection(outbound, 'outbound')).toBeInstanceOf(HandshakeClosedError)
  })

  it('an auth addressed to another node id: the recipient cannot open it, the dialer sees the close', async () => {
    const a = nodeKey()
    const b = nodeKey()
    const someoneElse = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    const inbound = secureInbound(y, { privateKey: b.privateKey })
    const outbound = secureOutbound(x, { privateKey: a.privateKey, remoteId: someoneElse.id })
    const inErr = await rejection(inbound, 'inbound')
    expect(inErr).toBeInstanceOf(DecryptError)
    const outErr = await rejection(outbound, 'outbound')
    expect(outErr).toBeInstanceOf(HandshakeClosedError)
    expect(outErr.code).toBe('ERR_ECIES_HANDSHAKE_CLOSED')
    expect(x.destroyed).toBe(true)
    expect(y.destroyed).toBe(true)
  })

  it('a handshake that never finishes: HandshakeTimeoutError on both roles, sockets destroyed', async () => {
    const a = nodeKey()
    const b = nodeKey()
    const [x1, y1] = duplexPair()
    const [x2, y2] = duplexPair()
    track(x1, y1, x2, y2)
    const silentPeer = secureInbound(y1, { privateKey: b.privateKey, timeoutMs: 200 })
    x1.write(randomBytes(1)) // less than a size prefix, then nothing
    const unansweredDial = secureOutbound(x2, { privateKey: a.privateKey, remoteId: b.id, timeoutMs: 200 })
    y2.resume() // swallow the auth, never answer
    const [e1, e2] = await Promise.all([rejection(silentPeer, 'inbound'), rejection(unansweredDial, 'outbound')])
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(HandshakeTimeoutError)
      expect(e.code).toBe('ERR_ECIES_HANDSHAKE_TIMEOUT')
    }
    expect(y1.destroyed).toBe(true)
    expect(x2.destroyed).toBe(true)
  })

  it('an AbortSignal ends the handshake with HandshakeAbortedError carrying the reason', async () => {
    const b = nodeKey()
    const [x, y] = duplexPair()
    const [x2, y2] = duplexPair()
    track(x, y, x2, y2)
    const ac = new AbortController()
    const inbound = secureInbound(y, { privateKey: b.privateKey, signal: ac.signal })
    await settle()
    ac.abort(new Error('shutting down'))
    const err = await rejection(inbound, 'inbound')
    expect(err).toBeInstanceOf(HandshakeAbortedError)
    expect(err.code).toBe('ERR_ECIES_HANDSHAKE_ABORTED')
    expect((err.cause as Error).message).toBe('shutting down')
    expect(y.destroyed).toBe(true)
    const pre = await rejection(secureInbound(y2, { privateKey: b.privateKey, signal: AbortSignal.abort() }), 'pre-aborted')
    expect(pre).toBeInstanceOf(HandshakeAbortedError)
    expect(y2.destroyed).toBe(true)
  })

  it('the remote closing mid-handshake: HandshakeClosedError', async () => {
    const b = nodeKey()
    const [x, y] = duplexPair()
    track(x, y)
    const inbound = secureInbound(y, { privateKey: b.privateKey })
    x.end(Uint8Array.of(0x01))
    expect(await rejection(inbound, 'inbound')).toBeInstanceOf(HandshakeClosedError)
  })

  it('an invalid private key, remote id or option: typed error, socket destroyed', async () => {
    const b = nodeKey()
    const pairs = [duplexPair(), duplexPair(), duplexPair()]
    for (const [x, y] of pairs) track(x, y)
    const badKey = await rejection(secureInbound(pairs[0]![1], { privateKey: new Uint8Array(32) }), 'bad key')
    expect(badKey).toBeInstanceOf(InvalidKeyError)
    const badId = await rejection(
      secureOutbound(pairs[1]![0], { privateKey: b.privateKey, remoteId: new Uint8Array(64).fill(5) }),
      'bad id',
    )
    expect(badId).toBeInstanceOf(InvalidKeyError)
    expect(badId.code).toBe('ERR_ECIES_INVALID_KEY')
    const badOpt = await rejection(secureInbound(pairs[2]![1], { privateKey: b.privateKey, maxInboundFrameSize: 1 << 24 }), 'bad option')
    expect(badOpt).toBeInstanceOf(InvalidOptionError)
    expect(pairs[0]![1].destroyed && pairs[1]![0].destroyed && pairs[2]![1].destroyed).toBe(true)
  })

  it('one flipped bit in a frame: FrameMacError, sockets destroyed, nothing delivered', async () => {
    const { x, y, a, b } = await securedPair()
    track(x, y, a.stream, b.stream)
    x.transform = (chunk) => {
      const c = Buffer.from(chunk)
      c[c.length - 20]! ^= 0x01 // inside the body ciphertext
      return c
    }
    const failure = errorOf(b.stream)
    let delivered = 0
    b.stream.on('data', (d: Buffer) => (delivered += d.length))
    a.stream.write(randomBytes(100))
    const err = await within(failure, 5000, 'MAC failure')
    expect(err).toBeInstanceOf(FrameMacError)
    expect((err as FrameMacError).code).toBe('ERR_ECIES_BAD_MAC')
    expect(delivered).toBe(0)
    await within(closed(y), 5000, 'socket close')
    expect(y.destroyed).toBe(true)
  })

  it('a frame over the default inbound limit: FrameTooLargeError, socket destroyed', async () => {
    const { x, y, a, b } = await securedPair({ outbound: { maxOutboundFrameSize: DEFAULT_MAX_INBOUND_FRAME_SIZE + 16 } })
    track(x, y, a.stream, b.stream)
    const failure = errorOf(b.stream)
    b.stream.resume()
    a.stream.write(randomBytes(DEFAULT_MAX_INBOUND_FRAME_SIZE + 16))
    const err = await within(failure, 5000, 'oversize frame')
    expect(err).toBeInstanceOf(FrameTooLargeError)
    expect(err.message).toContain(String(DEFAULT_MAX_INBOUND_FRAME_SIZE))
    expect(y.destroyed).toBe(true)
  })

  it('a frame over a configured inbound limit: FrameTooLargeError', async () => {
    const { x, y, a, b } = await securedPair({ inbound: { maxInboundFrameSize: 4096 } })
    track(x, y, a.stream, b.stream)
    const failure = errorOf(b.stream)
    b.stream.resume()
    a.stream.write(randomBytes(5000))
    expect(await within(failure, 5000, 'oversize frame')).toBeInstanceOf(FrameTooLargeError)
  })
})
