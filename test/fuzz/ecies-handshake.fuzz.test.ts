import { RLP } from '@ethereumjs/rlp'
import * as secp from '@noble/secp256k1'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EciesError } from '../../src/p2p/crypto/errors'
import { InitiatorHandshake, ResponderHandshake } from '../../src/p2p/crypto/handshake-state'
import { secureInbound } from '../../src/p2p/crypto/handshake'
import { MAX_HANDSHAKE_PACKET_SIZE } from '../../src/p2p/crypto/limits'
import {
  decodeAckEip8,
  decodeAckLegacy,
  decodeAuthEip8,
  decodeAuthLegacy,
  encodeAckEip8,
  encodeAuthEip8,
  LEGACY_ACK_BODY_SIZE,
  LEGACY_AUTH_BODY_SIZE,
} from '../../src/p2p/crypto/messages'
import { sealEip8, sealLegacy, takePacket } from '../../src/p2p/crypto/packets'
import { keyPairFromPrivateKey, type KeyPair } from '../../src/p2p/crypto/secp256k1'
import { duplexPair } from '../utils/duplex-pair'
import { chunksOf, cutsArb, flipBit, fuzzParams, fuzzTimeout, onlyTyped } from './fuzz'

const ECIES = { type: EciesError } as const

/** A few fixed node keys (key generation is not what is being fuzzed). */
const keys: KeyPair[] = Array.from({ length: 3 }, () => keyPairFromPrivateKey(secp.utils.randomSecretKey()))
const [alice, bob, carol] = keys as [KeyPair, KeyPair, KeyPair]
const idOf = (k: KeyPair): string => Buffer.from(k.publicKey.subarray(1)).toString('hex')

/**
 * One responder per key, reused: receiveAuth only parses and verifies (what is
 * fuzzed here), and a fresh ephemeral key per case would only add EC work.
 */
const responders = new Map<KeyPair, ResponderHandshake>(keys.map((k) => [k, new ResponderHandshake(k)]))

/** Opens an auth as the responder `key` would: packet envelope, then body and signature. */
function openAuth(key: KeyPair, bytes: Uint8Array): { id: string } | 'incomplete' {
  const opened = takePacket(bytes, key, LEGACY_AUTH_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)
  if (opened === undefined) return 'incomplete'
  const remote = responders.get(key)!.receiveAuth(opened)
  return { id: Buffer.from(remote.id).toString('hex') }
}

/** One initiator (towards bob) per key, reused for the same reason. */
const initiators = new Map<KeyPair, InitiatorHandshake>(keys.map((k) => [k, new InitiatorHandshake(k, bob.publicKey)]))

function openAck(hs: InitiatorHandshake, key: KeyPair, bytes: Uint8Array): 'ok' | 'incomplete' {
  const opened = takePacket(bytes, key, LEGACY_ACK_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)
  if (opened === undefined) return 'incomplete'
  hs.receiveAck(opened)
  return 'ok'
}

const bytesOf = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })

/** Plausible-looking RLP bodies: the right shape with random contents, wrong sizes, extra items, junk. */
const authBodyArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(bytesOf(65), bytesOf(64), bytesOf(32), fc.nat({ max: 10 })).map((f) => RLP.encode(f)),
  fc.tuple(bytesOf(65), fc.constant(alice.publicKey.subarray(1)), bytesOf(32), fc.nat()).map((f) => RLP.encode(f)),
  fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 6 }).map((f) => RLP.encode(f)),
  fc.uint8Array({ maxLength: 300 }),
)
const ackBodyArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(bytesOf(64), bytesOf(32), fc.nat({ max: 10 })).map((f) => RLP.encode(f)),
  fc.tuple(fc.constant(carol.publicKey.subarray(1)), bytesOf(32), fc.nat()).map((f) => RLP.encode(f)),
  fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 5 }).map((f) => RLP.encode(f)),
  fc.uint8Array({ maxLength: 300 }),
)

describe('fuzz: ECIES auth/ack', () => {
  it(
    'a valid auth/ack exchange authenticates the initiator and derives matching secrets (encode then decode is the identity)',
    () => {
      fc.assert(
        fc.property(fc.constantFrom(...keys), fc.constantFrom(...keys), (initiatorKey, responderKey) => {
          const initiator = new InitiatorHandshake(initiatorKey, responderKey.publicKey)
          const opened = takePacket(initiator.authPacket, responderKey, LEGACY_AUTH_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)!
          const responder = new ResponderHandshake(responderKey)
          expect(Buffer.from(responder.receiveAuth(opened).id).toString('hex')).toBe(idOf(initiatorKey))
          const { ackPacket, secrets } = responder.respond()
          const ack = takePacket(ackPacket, initiatorKey, LEGACY_ACK_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)!
          const mine = initiator.receiveAck(ack).secrets
          expect(Buffer.from(mine.aesSecret).equals(Buffer.from(secrets.aesSecret))).toBe(true)
          expect(Buffer.from(mine.egressMacSeed).equals(Buffer.from(secrets.ingressMacSeed))).toBe(true)
          expect(Buffer.from(mine.ingressMacSeed).equals(Buffer.from(secrets.egressMacSeed))).toBe(true)
        }),
        fuzzParams(0.25), // two EC handshakes per case: the other properties carry the count
      )
    },
    fuzzTimeout(5),
  )

  it('auth and ack bodies: decode(encode(x)) is the identity, arbitrary bodies decode or throw an EciesError', () => {
    fc.assert(
      fc.property(bytesOf(65), bytesOf(64), bytesOf(32), fc.uint8Array({ maxLength: 400 }), (sig, id, nonce, junk) => {
        const auth = decodeAuthEip8(encodeAuthEip8({ signature: sig, initiatorId: id, nonce }))
        expect([auth.signature, auth.initiatorId, auth.nonce].map((b) => Buffer.from(b).toString('hex'))).toEqual(
          [sig, id, nonce].map((b) => Buffer.from(b).toString('hex')),
        )
        const ack = decodeAckEip8(encodeAckEip8({ ephemeralId: id, nonce }))
        expect(Buffer.from(ack.ephemeralId).equals(Buffer.from(id))).toBe(true)
        for (const decode of [decodeAuthEip8, decodeAckEip8, decodeAuthLegacy, decodeAckLegacy]) onlyTyped(ECIES, () => decode(junk))
      }),
      fuzzParams(),
    )
  })

  it(
    'random bytes as auth or ack: "need more bytes" or an EciesError, never accepted',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 900 }), fc.boolean(), (bytes, legacyMarker) => {
          if (legacyMarker && bytes.length > 0) bytes[0] = 0x04
          const auth = onlyTyped(ECIES, () => openAuth(bob, bytes))
          if (auth !== undefined) expect(auth).toBe('incomplete')
          const ack = onlyTyped(ECIES, () => openAck(initiators.get(alice)!, alice, bytes))
          if (ack !== undefined) expect(ack).toBe('incomplete')
        }),
        fuzzParams(),
      )
    },
    fuzzTimeout(3),
  )

  it(
    'a valid auth or ack with one bit flipped, truncated, or for another node is refused with an EciesError',
    () => {
      const initiator = new InitiatorHandshake(alice, bob.publicKey)
      const responder = new ResponderHandshake(bob)
      responder.receiveAuth(takePacket(initiator.authPacket, bob, LEGACY_AUTH_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)!)
      const { ackPacket } = responder.respond()
      fc.assert(
        fc.property(fc.nat(), fc.nat(), fc.constantFrom('flip', 'truncate', 'other-node'), (bit, cut, how) => {
          const mutate = (packet: Uint8Array): Uint8Array =>
            how === 'flip' ? flipBit(packet, bit) : how === 'truncate' ? packet.subarray(0, cut % packet.length) : packet
          const authKey = how === 'other-node' ? carol : bob
          const ackKey = how === 'other-node' ? carol : alice
          const auth = onlyTyped(ECIES, () => openAuth(authKey, mutate(initiator.authPacket)))
          const ack = onlyTyped(ECIES, () => openAck(initiators.get(ackKey)!, ackKey, mutate(ackPacket)))
          // "incomplete" (waiting for more bytes) only after a truncation or a flip that enlarged the size prefix
          const mayWait = (packet: Uint8Array): boolean => how === 'truncate' || (how === 'flip' && bit % (packet.length * 8) < 16)
          if (auth !== undefined) expect(mayWait(initiator.authPacket) && auth === 'incomplete').toBe(true)
          if (ack !== undefined) expect(mayWait(ackPacket) && ack === 'incomplete').toBe(true)
        }),
        fuzzParams(),
      )
    },
    fuzzTimeout(3),
  )

  it(
    'correctly sealed but malformed bodies (EIP-8 and legacy) end in an EciesError or an auth from the id they name',
    () => {
      fc.assert(
        fc.property(authBodyArb, ackBodyArb, fc.boolean(), (authBody, ackBody, legacy) => {
          const legacyAuth = resize(authBody, LEGACY_AUTH_BODY_SIZE)
          const authBytes = legacy ? sealLegacy(bob.publicKey, legacyAuth) : sealEip8(bob.publicKey, authBody)
          const auth = onlyTyped(ECIES, () => openAuth(bob, authBytes))
          if (auth !== undefined) {
            expect(auth).not.toBe('incomplete')
            // The signature recovered *some* key: the auth speaks for the id it carries, nothing else.
            const named = legacy ? legacyAuth.subarray(97, 161) : (RLP.decode(authBody, true).data as Uint8Array[])[1]!
            expect((auth as { id: string }).id).toBe(Buffer.from(named).toString('hex'))
          }
          const ackBytes = legacy ? sealLegacy(alice.publicKey, resize(ackBody, LEGACY_ACK_BODY_SIZE)) : sealEip8(alice.publicKey, ackBody)
          onlyTyped(ECIES, () => openAck(initiators.get(alice)!, alice, ackBytes))
        }),
        fuzzParams(),
      )
    },
    fuzzTimeout(5),
  )

  it(
    'secureInbound fed hostile bytes then EOF rejects with an EciesError and destroys the socket',
    async () => {
      const valid = new InitiatorHandshake(alice, bob.publicKey).authPacket
      const hostile = fc.oneof(
        fc.uint8Array({ maxLength: 700 }),
        fc.tuple(fc.nat(), fc.nat()).map(([bit, cut]) => flipBit(valid, bit).subarray(0, Math.max(1, cut % (valid.length + 1)))),
        fc.nat().map((cut) => valid.subarray(0, cut % valid.length)),
      )
      await fc.assert(
        fc.asyncProperty(hostile, cutsArb, async (bytes, cuts) => {
          const [remote, local] = duplexPair()
          remote.resume()
          const handshake = secureInbound(local, { privateKey: bob.privateKey, timeoutMs: 30_000 })
          for (const c of chunksOf(bytes, cuts)) remote.write(c)
          remote.end()
          let error: unknown
          try {
            await handshake
          } catch (err) {
            error = err
          } finally {
            remote.destroy()
          }
          expect(error).toBeInstanceOf(EciesError)
          expect(typeof (error as EciesError).code).toBe('string')
          expect(local.destroyed).toBe(true)
        }),
        fuzzParams(),
      )
    },
    fuzzTimeout(5),
  )
})

/** `body` cut or zero-padded to exactly `n` bytes (legacy bodies have a fixed size). */
function resize(body: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n)
  out.set(body.subarray(0, n))
  return out
}
