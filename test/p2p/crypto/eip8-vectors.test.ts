import { describe, expect, it } from 'vitest'
import { decodeAckEip8, decodeAckLegacy } from '../../../src/p2p/crypto/messages'
import { InitiatorHandshake, ResponderHandshake } from '../../../src/p2p/crypto/handshake-state'
import { loadKeccakEngine } from '../../../src/p2p/crypto/keccak'
import { FrameMac } from '../../../src/p2p/crypto/mac'
import { takePacket } from '../../../src/p2p/crypto/packets'
import { deriveSecrets } from '../../../src/p2p/crypto/secrets'
import { keyPairFromPrivateKey, publicKeyToId } from '../../../src/p2p/crypto/secp256k1'
import { LEGACY_ACK_BODY_SIZE, LEGACY_AUTH_BODY_SIZE } from '../../../src/p2p/crypto/messages'
import { MAX_HANDSHAKE_PACKET_SIZE } from '../../../src/p2p/crypto/limits'
import { hex } from './helpers'

import {
  ack1,
  ack2,
  ack3,
  aesSecret,
  auth1,
  auth2,
  auth3,
  ephemeralKeyA,
  ephemeralKeyB,
  ingressMacFoo,
  macSecret,
  nonceA,
  nonceB,
  staticKeyA,
  staticKeyB,
} from './eip8-vectors'

// Node A initiates a connection with node B.
const keyA = keyPairFromPrivateKey(staticKeyA)
const keyB = keyPairFromPrivateKey(staticKeyB)
const ephA = keyPairFromPrivateKey(ephemeralKeyA)
const ephB = keyPairFromPrivateKey(ephemeralKeyB)

function openAuth(packet: Uint8Array) {
  const opened = takePacket(packet, keyB, LEGACY_AUTH_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)
  if (opened === undefined) throw new Error('auth vector incomplete')
  return { opened, remote: new ResponderHandshake(keyB, { ephemeralKey: ephB, nonce: nonceB }).receiveAuth(opened) }
}

describe('EIP-8 RLPx handshake test vectors', () => {
  it.each([
    ['Auth1 (pre-EIP-8)', auth1, true, 4],
    ['Auth2 (EIP-8, version 4)', auth2, false, 4],
    ['Auth3 (EIP-8, version 56, extra elements)', auth3, false, 56],
  ])('node B reads %s', (_name, packet, legacy, version) => {
    const { opened, remote } = openAuth(packet)
    expect(opened.legacy).toBe(legacy)
    expect(opened.packet.length).toBe(packet.length)
    expect(hex(remote.id)).toBe(hex(publicKeyToId(keyA.publicKey)))
    expect(hex(remote.nonce)).toBe(hex(nonceA))
    expect(hex(remote.ephemeralPublicKey)).toBe(hex(ephA.publicKey))
    // legacy auth carries a 0x00 token flag where EIP-8 has the version
    expect(remote.version).toBe(legacy ? 0 : version)
  })

  it.each([
    ['Ack1 (pre-EIP-8)', ack1, true, 0],
    ['Ack2 (EIP-8, version 4)', ack2, false, 4],
    ['Ack3 (EIP-8, version 57, extra elements)', ack3, false, 57],
  ])('node A reads %s', (_name, packet, legacy, version) => {
    const opened = takePacket(packet, keyA, LEGACY_ACK_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)
    expect(opened).toBeDefined()
    expect(opened!.legacy).toBe(legacy)
    const ack = legacy ? decodeAckLegacy(opened!.plaintext) : decodeAckEip8(opened!.plaintext)
    expect(hex(ack.ephemeralId)).toBe(hex(publicKeyToId(ephB.publicKey)))
    expect(hex(ack.nonce)).toBe(hex(nonceB))
    expect(ack.version).toBe(version)
  })

  it('node A, with its own ephemeral key and nonce, derives from Ack2 the secrets B derives', async () => {
    const initiator = new InitiatorHandshake(keyA, keyB.publicKey, { ephemeralKey: ephA, nonce: nonceA })
    const opened = takePacket(ack2, keyA, LEGACY_ACK_BODY_SIZE, MAX_HANDSHAKE_PACKET_SIZE)!
    const { secrets, ack } = initiator.receiveAck(opened)
    expect(hex(ack.ephemeralPublicKey)).toBe(hex(ephB.publicKey))
    expect(hex(secrets.aesSecret)).toBe(aesSecret)
    expect(hex(secrets.macSecret)).toBe(macSecret)
  })

  it('node B derives aes-secret, mac-secret and the ingress MAC for (Auth2, Ack2)', async () => {
    const { remote } = openAuth(auth2)
    const secrets = deriveSecrets({
      initiator: false,
      ephemeralShared: ephB.agree(remote.ephemeralPublicKey),
      localNonce: nonceB,
      remoteNonce: remote.nonce,
      localPacket: ack2,
      remotePacket: auth2,
    })
    expect(hex(secrets.aesSecret)).toBe(aesSecret)
    expect(hex(secrets.macSecret)).toBe(macSecret)
    const ingress = new FrameMac(await loadKeccakEngine(), secrets.macSecret, secrets.ingressMacSeed)
    ingress.absorb(new TextEncoder().encode('foo'))
    expect(hex(ingress.digest())).toBe(ingressMacFoo)
    // reading the digest must not disturb the running state
    expect(hex(ingress.digest())).toBe(ingressMacFoo)
  })
})
