import { randomBytes } from 'node:crypto'
import { keccak_256 } from '@noble/hashes/sha3.js'
import * as secp from '@noble/secp256k1'
import { describe, expect, it } from 'vitest'
import { ECIES_OVERHEAD, eciesDecrypt, eciesEncrypt } from '../../../src/p2p/crypto/ecies'
import { DecryptError, HandshakeTooLargeError, InvalidHandshakeError, InvalidKeyError } from '../../../src/p2p/crypto/errors'
import { InitiatorHandshake, ResponderHandshake } from '../../../src/p2p/crypto/handshake-state'
import {
  LEGACY_ACK_BODY_SIZE,
  LEGACY_AUTH_BODY_SIZE,
  decodeAckEip8,
  decodeAuthEip8,
  encodeAckEip8,
  encodeAuthEip8,
} from '../../../src/p2p/crypto/messages'
import { sealEip8, sealLegacy, takePacket } from '../../../src/p2p/crypto/packets'
import {
  idToPublicKey,
  keyPairFromPrivateKey,
  randomKeyPair,
  recoverPublicKey,
  signRecoverable,
} from '../../../src/p2p/crypto/secp256k1'
import { hex } from './helpers'

const MAX = 2048

describe('secp256k1 helpers', () => {
  it('agrees on the same ECDH secret from both sides, matching noble', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    const ab = a.agree(b.publicKey)
    expect(hex(ab)).toBe(hex(b.agree(a.publicKey)))
    expect(hex(ab)).toBe(hex(secp.getSharedSecret(a.privateKey, b.publicKey, true).subarray(1)))
    expect(a.publicKey.length).toBe(65)
    expect(a.privateKey.length).toBe(32)
  })

  it('signs in r || s || v layout and recovers the signer', () => {
    const key = randomKeyPair()
    const digest = keccak_256(randomBytes(50))
    const sig = signRecoverable(digest, key.privateKey)
    expect(sig.length).toBe(65)
    expect(sig[64]).toBeLessThanOrEqual(1)
    expect(hex(recoverPublicKey(sig, digest))).toBe(hex(key.publicKey))
  })

  it('rejects bad private keys and node ids with InvalidKeyError', () => {
    expect(() => keyPairFromPrivateKey(new Uint8Array(32))).toThrow(InvalidKeyError)
    expect(() => keyPairFromPrivateKey(new Uint8Array(31).fill(1))).toThrow(InvalidKeyError)
    expect(() => idToPublicKey(new Uint8Array(64).fill(7))).toThrow(InvalidKeyError)
    expect(() => idToPublicKey(new Uint8Array(63))).toThrow(InvalidKeyError)
  })
})

describe('ECIES', () => {
  it('round-trips with authenticated shared MAC data', () => {
    const key = randomKeyPair()
    const msg = randomBytes(200)
    const aad = Uint8Array.of(1, 2)
    const sealed = eciesEncrypt(key.publicKey, msg, aad)
    expect(sealed.length).toBe(msg.length + ECIES_OVERHEAD)
    expect(Buffer.from(eciesDecrypt(key, sealed, aad)).equals(msg)).toBe(true)
  })

  it('uses a fresh one-time key and IV each time', () => {
    const key = randomKeyPair()
    const msg = randomBytes(10)
    expect(hex(eciesEncrypt(key.publicKey, msg))).not.toBe(hex(eciesEncrypt(key.publicKey, msg)))
  })

  it.each([
    ['sealed to another key', (s: Uint8Array) => s, randomKeyPair(), Uint8Array.of(1, 2)],
    ['with a flipped ciphertext bit', (s: Uint8Array) => (s[90]! ^= 1, s), undefined, Uint8Array.of(1, 2)],
    ['with different shared MAC data', (s: Uint8Array) => s, undefined, Uint8Array.of(1, 3)],
    ['too short', (s: Uint8Array) => s.subarray(0, 100), undefined, Uint8Array.of(1, 2)],
    ['with an invalid public key', (s: Uint8Array) => (s.fill(9, 1, 65), s), undefined, Uint8Array.of(1, 2)],
  ])('rejects a packet %s with DecryptError', (_what, mutate, otherKey, aad) => {
    const key = randomKeyPair()
    const sealed = mutate(eciesEncrypt(key.publicKey, randomBytes(64), Uint8Array.of(1, 2)))
    expect(() => eciesDecrypt(otherKey ?? key, sealed, aad)).toThrow(DecryptError)
  })
})

describe('handshake packets', () => {
  const key = randomKeyPair()

  it('EIP-8 bodies round-trip and tolerate extra list elements and padding', () => {
    const auth = { signature: randomBytes(65), initiatorId: randomBytes(64), nonce: randomBytes(32) }
    const decoded = decodeAuthEip8(encodeAuthEip8(auth))
    expect(hex(decoded.signature)).toBe(hex(auth.signature))
    expect(hex(decoded.initiatorId)).toBe(hex(auth.initiatorId))
    expect(decoded.version).toBe(4)
    const ack = { ephemeralId: randomBytes(64), nonce: randomBytes(32) }
    expect(hex(decodeAckEip8(encodeAckEip8(ack)).nonce)).toBe(hex(ack.nonce))
  })

  it('pads EIP-8 bodies with 100-300 random bytes', () => {
    const sizes = new Set<number>()
    for (let i = 0; i < 20; i++) {
      const body = encodeAckEip8({ ephemeralId: randomBytes(64), nonce: randomBytes(32) })
      const rlpSize = 3 + 65 + 33 + 1
      expect(body.length - rlpSize).toBeGreaterThanOrEqual(100)
      expect(body.length - rlpSize).toBeLessThanOrEqual(300)
      sizes.add(body.length)
    }
    expect(sizes.size).toBeGreaterThan(1)
  })

  it('rejects malformed bodies with InvalidHandshakeError', () => {
    expect(() => decodeAuthEip8(Uint8Array.of(0xff, 0x01))).toThrow(InvalidHandshakeError)
    expect(() => decodeAuthEip8(Uint8Array.of(0x82, 0x01, 0x02))).toThrow(InvalidHandshakeError) // a string, not a list
    expect(() => decodeAckEip8(Uint8Array.of(0xc2, 0x01, 0x02))).toThrow(InvalidHandshakeError) // too few items
    const short = encodeAuthEip8({ signature: randomBytes(64), initiatorId: randomBytes(64), nonce: randomBytes(32) })
    expect(() => decodeAuthEip8(short)).toThrow(InvalidHandshakeError)
  })

  it('waits for the whole packet, byte by byte', () => {
    const packet = sealEip8(key.publicKey, randomBytes(150))
    for (let n = 0; n < packet.length; n++) expect(takePacket(packet.subarray(0, n), key, LEGACY_AUTH_BODY_SIZE, MAX)).toBeUndefined()
    const opened = takePacket(packet, key, LEGACY_AUTH_BODY_SIZE, MAX)!
    expect(opened.legacy).toBe(false)
    expect(opened.packet.length).toBe(packet.length)
  })

  it('reads an EIP-8 packet whose size prefix starts with 0x04 (not legacy)', () => {
    const packet = sealEip8(key.publicKey, randomBytes(1024 - ECIES_OVERHEAD + 5))
    expect(packet[0]).toBe(0x04)
    const opened = takePacket(packet, key, LEGACY_AUTH_BODY_SIZE, MAX)!
    expect(opened.legacy).toBe(false)
    expect(opened.plaintext.length).toBe(1024 - ECIES_OVERHEAD + 5)
  })

  it('reads a legacy packet and leaves what follows', () => {
    const packet = sealLegacy(key.publicKey, randomBytes(LEGACY_ACK_BODY_SIZE))
    const opened = takePacket(Buffer.concat([packet, Buffer.from('next')]), key, LEGACY_ACK_BODY_SIZE, MAX)!
    expect(opened.legacy).toBe(true)
    expect(opened.packet.length).toBe(LEGACY_ACK_BODY_SIZE + ECIES_OVERHEAD)
  })

  it('refuses a size prefix over the limit, and one below the ECIES minimum', () => {
    expect(() => takePacket(Uint8Array.of(0x09, 0x00), key, LEGACY_AUTH_BODY_SIZE, MAX)).toThrow(HandshakeTooLargeError)
    expect(() => takePacket(Uint8Array.of(0x00, 0x10), key, LEGACY_AUTH_BODY_SIZE, MAX)).toThrow(InvalidHandshakeError)
  })
})

describe('handshake state machines', () => {
  it('initiator and responder derive mirrored secrets', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    const init = new InitiatorHandshake(a, b.publicKey)
    const resp = new ResponderHandshake(b)
    const remote = resp.receiveAuth(takePacket(init.authPacket, b, LEGACY_AUTH_BODY_SIZE, MAX)!)
    expect(hex(remote.publicKey)).toBe(hex(a.publicKey))
    const { ackPacket, secrets: sb } = resp.respond()
    const { secrets: sa } = init.receiveAck(takePacket(ackPacket, a, LEGACY_ACK_BODY_SIZE, MAX)!)
    expect(hex(sa.aesSecret)).toBe(hex(sb.aesSecret))
    expect(hex(sa.macSecret)).toBe(hex(sb.macSecret))
    expect(hex(sa.egressMacSeed)).toBe(hex(sb.ingressMacSeed))
    expect(hex(sa.ingressMacSeed)).toBe(hex(sb.egressMacSeed))
  })

  it('rejects an auth whose signature recovers a key other than the one that signed', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    // a forged auth: valid ECIES to b, signature by an unrelated key over unrelated data
    const body = encodeAuthEip8({
      signature: signRecoverable(keccak_256(randomBytes(8)), randomKeyPair().privateKey),
      initiatorId: a.publicKey.subarray(1),
      nonce: randomBytes(32),
    })
    const resp = new ResponderHandshake(b)
    const remote = resp.receiveAuth(takePacket(sealEip8(b.publicKey, body), b, LEGACY_AUTH_BODY_SIZE, MAX)!)
    // recovery "succeeds" but yields a key the real initiator does not hold, so the sessions
    // cannot agree: the derived secrets differ from what a's ephemeral key would give
    expect(remote.ephemeralPublicKey.length).toBe(65)
    const init = new InitiatorHandshake(a, b.publicKey)
    const { ackPacket, secrets: sb } = resp.respond()
    const { secrets: sa } = init.receiveAck(takePacket(ackPacket, a, LEGACY_ACK_BODY_SIZE, MAX)!)
    expect(hex(sa.aesSecret)).not.toBe(hex(sb.aesSecret))
  })

  it('rejects an auth carrying an initiator id that is not a curve point', () => {
    const b = randomKeyPair()
    const body = encodeAuthEip8({ signature: randomBytes(65), initiatorId: new Uint8Array(64).fill(3), nonce: randomBytes(32) })
    const resp = new ResponderHandshake(b)
    expect(() => resp.receiveAuth(takePacket(sealEip8(b.publicKey, body), b, LEGACY_AUTH_BODY_SIZE, MAX)!)).toThrow(
      InvalidHandshakeError,
    )
  })

  it('answers a legacy auth with a legacy ack', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    const eph = randomKeyPair()
    const nonce = randomBytes(32)
    const sig = signRecoverable(
      Uint8Array.from(a.agree(b.publicKey).map((x, i) => x ^ nonce[i]!)),
      eph.privateKey,
    )
    const legacyBody = Buffer.concat([sig, keccak_256(eph.publicKey.subarray(1)), a.publicKey.subarray(1), nonce, Uint8Array.of(0)])
    const resp = new ResponderHandshake(b)
    const remote = resp.receiveAuth(takePacket(sealLegacy(b.publicKey, legacyBody), b, LEGACY_AUTH_BODY_SIZE, MAX)!)
    expect(remote.legacy).toBe(true)
    expect(hex(remote.ephemeralPublicKey)).toBe(hex(eph.publicKey))
    const { ackPacket } = resp.respond()
    expect(ackPacket.length).toBe(LEGACY_ACK_BODY_SIZE + ECIES_OVERHEAD)
    expect(ackPacket[0]).toBe(0x04)
  })

  it('rejects a legacy auth whose ephemeral-key hash does not match', () => {
    const a = randomKeyPair()
    const b = randomKeyPair()
    const nonce = randomBytes(32)
    const sig = signRecoverable(
      Uint8Array.from(a.agree(b.publicKey).map((x, i) => x ^ nonce[i]!)),
      randomKeyPair().privateKey,
    )
    const legacyBody = Buffer.concat([sig, randomBytes(32), a.publicKey.subarray(1), nonce, Uint8Array.of(0)])
    const resp = new ResponderHandshake(b)
    expect(() => resp.receiveAuth(takePacket(sealLegacy(b.publicKey, legacyBody), b, LEGACY_AUTH_BODY_SIZE, MAX)!)).toThrow(
      InvalidHandshakeError,
    )
  })
})
