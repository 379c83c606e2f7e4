import { concatBytes } from '../util/bytes'
import { ECIES_OVERHEAD, eciesDecrypt, eciesEncrypt } from './ecies'
import { DecryptError, HandshakeTooLargeError, InvalidHandshakeError } from './errors'
import type { KeyPair } from './secp256k1'

/**
 * Handshake packet envelopes: sealing a body for the wire and taking one
 * packet off the front of the received bytes.
 *
 *   EIP-8:  size (2 bytes, big-endian, = length of the ECIES part) || ecies(body, authData = size)
 *   legacy: ecies(body) with a fixed length, recognisable by its leading 0x04 (the
 *           uncompressed-key marker of the ECIES public key)
 */

export interface OpenedPacket {
  /** The packet exactly as received (size prefix included); it seeds the frame MACs. */
  packet: Uint8Array
  plaintext: Uint8Array
  legacy: boolean
}

export function sealEip8(remotePublicKey: Uint8Array, body: Uint8Array): Uint8Array {
  const size = body.length + ECIES_OVERHEAD
  const prefix = Uint8Array.of(size >>> 8, size & 0xff)
  return concatBytes(prefix, eciesEncrypt(remotePublicKey, body, prefix))
}

export function sealLegacy(remotePublicKey: Uint8Array, body: Uint8Array): Uint8Array {
  return eciesEncrypt(remotePublicKey, body)
}

/** Smallest plausible EIP-8 ECIES part: the overhead plus a one-byte body. */
const MIN_EIP8_SIZE = ECIES_OVERHEAD + 1

/**
 * Takes one packet from the front of `buf`. Returns undefined while more bytes
 * are needed; throws an EciesError once the bytes cannot be a valid packet.
 *
 * As EIP-8 suggests, bytes starting with 0x04 are first tried as a legacy
 * packet of `legacyBodySize`; if that does not decrypt they are read as an
 * EIP-8 packet whose size prefix happens to begin with 0x04.
 */
export function takePacket(buf: Uint8Array, key: KeyPair, legacyBodySize: number, maxSize: number): OpenedPacket | undefined {
  if (buf.length < 2) return undefined
  if (buf[0] === 0x04) {
    const legacySize = legacyBodySize + ECIES_OVERHEAD
    if (buf.length < legacySize) return undefined
    const packet = buf.subarray(0, legacySize)
    const plaintext = tryDecrypt(key, packet)
    if (plaintext !== undefined) return { packet, plaintext, legacy: true }
  }
  const size = (buf[0]! << 8) | buf[1]!
  const total = size + 2
  if (total > maxSize) throw new HandshakeTooLargeError(total, maxSize)
  if (size < MIN_EIP8_SIZE) throw new InvalidHandshakeError(`handshake packet size ${size} is below the ECIES minimum`)
  if (buf.length < total) return undefined
  const packet = buf.subarray(0, total)
  return { packet, plaintext: eciesDecrypt(key, packet.subarray(2), packet.subarray(0, 2)), legacy: false }
}

function tryDecrypt(key: KeyPair, packet: Uint8Array): Uint8Array | undefined {
  try {
    return eciesDecrypt(key, packet)
  } catch (err) {
    if (err instanceof DecryptError) return undefined
    throw err
  }
}
