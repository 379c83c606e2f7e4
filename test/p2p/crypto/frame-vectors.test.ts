import { ECIES } from '@ethereumjs/devp2p'
import { getPublicKey, getSharedSecret } from '@noble/secp256k1'
import { describe, expect, it } from 'vitest'
import { createFrameCodec, type FrameCodec } from '../../../src/p2p/crypto/frame-cipher'
import { loadKeccakEngine } from '../../../src/p2p/crypto/keccak'
import { DEFAULT_MAX_INBOUND_FRAME_SIZE } from '../../../src/p2p/crypto/limits'
import { deriveSecrets } from '../../../src/p2p/crypto/secrets'
import { keyPairFromPrivateKey } from '../../../src/p2p/crypto/secp256k1'
import { ack2, aesSecret, auth2, ephemeralKeyA, ephemeralKeyB, macSecret, nonceA, nonceB, staticKeyA, staticKeyB } from './eip8-vectors'
import { hex } from './helpers'

/**
 * Known-answer test of RLPx framing: frames sealed with the session secrets
 * of the EIP-8 test vectors (Auth2, Ack2), checked byte for byte against
 * @ethereumjs/devp2p's ECIES framing, which is given the same vector
 * inputs and derives its secrets and MAC states on its own (its
 * `_setupFrame`). Each direction has its own MAC seed, so a swapped
 * egress/ingress seed changes the very first header MAC: this unit test
 * catches it without a devp2p peer on a socket.
 */

/** devp2p's ECIES with its handshake state set from the vectors instead of a live handshake. */
class VectorEcies extends ECIES {
  constructor(staticKey: Uint8Array, remoteStaticKey: Uint8Array) {
    super(staticKey, getPublicKey(staticKey, false).subarray(1), getPublicKey(remoteStaticKey, false).subarray(1))
  }

  /** What a finished handshake leaves behind, then devp2p's own secret and MAC derivation. */
  setSession(s: { initiator: boolean; nonce: Uint8Array; remoteNonce: Uint8Array; ephemeralShared: Uint8Array; sent: Uint8Array; received: Uint8Array }): void {
    this._nonce = s.nonce
    this._remoteNonce = s.remoteNonce
    this._ephemeralSharedSecret = s.ephemeralShared
    this._initMsg = s.sent
    this._setupFrame(s.received, !s.initiator)
  }

  seal(body: Uint8Array): Buffer {
    return Buffer.concat([this.createBlockHeader(body.length)!, this.createBody(body)!])
  }

  open(frame: Uint8Array): Buffer {
    const size = this.parseHeader(frame.subarray(0, 32))!
    return Buffer.from(this.parseBody(frame.subarray(32))!.subarray(0, size))
  }
}

/** x coordinate of ECDH(ephemeral A, ephemeral B), computed with @noble/secp256k1 (not our libsecp256k1 path). */
const ephemeralShared = getSharedSecret(ephemeralKeyA, getPublicKey(ephemeralKeyB, false), true).subarray(1)

function reference(initiator: boolean): VectorEcies {
  const ecies = initiator ? new VectorEcies(staticKeyA, staticKeyB) : new VectorEcies(staticKeyB, staticKeyA)
  ecies.setSession({
    initiator,
    nonce: initiator ? nonceA : nonceB,
    remoteNonce: initiator ? nonceB : nonceA,
    ephemeralShared,
    sent: initiator ? auth2 : ack2,
    received: initiator ? ack2 : auth2,
  })
  return ecies
}

async function ours(initiator: boolean): Promise<FrameCodec> {
  const own = keyPairFromPrivateKey(initiator ? ephemeralKeyA : ephemeralKeyB)
  const other = keyPairFromPrivateKey(initiator ? ephemeralKeyB : ephemeralKeyA)
  const secrets = deriveSecrets({
    initiator,
    ephemeralShared: own.agree(other.publicKey),
    localNonce: initiator ? nonceA : nonceB,
    remoteNonce: initiator ? nonceB : nonceA,
    localPacket: initiator ? auth2 : ack2,
    remotePacket: initiator ? ack2 : auth2,
  })
  expect(hex(secrets.aesSecret)).toBe(aesSecret)
  expect(hex(secrets.macSecret)).toBe(macSecret)
  return createFrameCodec(await loadKeccakEngine(), secrets, DEFAULT_MAX_INBOUND_FRAME_SIZE)
}

function seal(codec: FrameCodec, body: Uint8Array): Buffer {
  const out: Uint8Array[] = []
  codec.encoder.encode([body], body.length, out)
  return Buffer.concat(out)
}

function open(codec: FrameCodec, frame: Uint8Array): Buffer {
  const got: Buffer[] = []
  codec.decoder.write(frame, (p) => got.push(p))
  return Buffer.concat(got)
}

/** Bodies of several shapes: the MAC and cipher states run on across frames, so order matters. */
const BODIES: Uint8Array[] = [
  new TextEncoder().encode('foo'),
  new Uint8Array(0),
  Uint8Array.from({ length: 16 }, (_, i) => i),
  Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff),
  Uint8Array.from({ length: 33 }, (_, i) => 255 - i),
]

describe('RLPx frames sealed with the EIP-8 vector secrets (Auth2, Ack2)', () => {
  it.each([
    ['A (initiator)', true],
    ['B (recipient)', false],
  ])("node %s seals frames byte for byte as devp2p does, and devp2p's other end opens them", async (_name, initiator) => {
    const codec = await ours(initiator)
    const sameSide = reference(initiator)
    const otherSide = reference(!initiator)
    for (const body of BODIES) {
      const frame = seal(codec, body)
      expect(hex(frame)).toBe(hex(sameSide.seal(body)))
      expect(hex(otherSide.open(frame))).toBe(hex(body))
    }
  })

  it("our decoders open devp2p's frames in both directions", async () => {
    const a = await ours(true)
    const b = await ours(false)
    const refA = reference(true)
    const refB = reference(false)
    for (const body of BODIES) {
      expect(hex(open(b, refA.seal(body)))).toBe(hex(body))
      expect(hex(open(a, refB.seal(body)))).toBe(hex(body))
    }
  })
})
