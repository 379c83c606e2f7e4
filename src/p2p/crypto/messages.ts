import { randomBytes, randomInt } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { concatBytes } from '../util/bytes'
import { InvalidHandshakeError } from './errors'

/**
 * Plaintext bodies of the RLPx handshake packets, before ECIES sealing.
 *
 * EIP-8:   auth-body = rlp([sig, initiator-id, initiator-nonce, auth-vsn, ...]) || padding
 *          ack-body  = rlp([recipient-ephemeral-id, recipient-nonce, ack-vsn, ...]) || padding
 * legacy:  auth-body = sig (65) || keccak(initiator-ephemeral-id) (32) || initiator-id (64) || nonce (32) || 0x00
 *          ack-body  = recipient-ephemeral-id (64) || recipient-nonce (32) || 0x00
 *
 * Decoders ignore the version, extra list elements and trailing bytes (EIP-8's
 * forward-compatibility rules); sizes of the known fields are checked exactly.
 */

/** Version this implementation announces in auth and ack. */
export const RLPX_VERSION = 4

/** Plaintext sizes of the pre-EIP-8 bodies. */
export const LEGACY_AUTH_BODY_SIZE = 65 + 32 + 64 + 32 + 1
export const LEGACY_ACK_BODY_SIZE = 64 + 32 + 1

/** EIP-8 recommends padding auth/ack with a random 100-300 bytes so packet sizes vary. */
const MIN_PADDING = 100
const MAX_PADDING = 300

export interface AuthBody {
  /** r || s || v over (static-shared-secret XOR initiator-nonce), by the initiator's ephemeral key. */
  signature: Uint8Array
  initiatorId: Uint8Array
  nonce: Uint8Array
  version: number
  /** Legacy only: keccak256 of the initiator's ephemeral id, checked after recovery. */
  ephemeralIdHash?: Uint8Array
}

export interface AckBody {
  ephemeralId: Uint8Array
  nonce: Uint8Array
  version: number
}

function padding(): Uint8Array {
  return randomBytes(randomInt(MIN_PADDING, MAX_PADDING + 1))
}

export function encodeAuthEip8(auth: Omit<AuthBody, 'version' | 'ephemeralIdHash'>): Uint8Array {
  return concatBytes(RLP.encode([auth.signature, auth.initiatorId, auth.nonce, RLPX_VERSION]), padding())
}

export function encodeAckEip8(ack: Omit<AckBody, 'version'>): Uint8Array {
  return concatBytes(RLP.encode([ack.ephemeralId, ack.nonce, RLPX_VERSION]), padding())
}

/** Pre-EIP-8 ack, sent only in answer to a pre-EIP-8 auth. */
export function encodeAckLegacy(ack: Omit<AckBody, 'version'>): Uint8Array {
  return concatBytes(ack.ephemeralId, ack.nonce, Uint8Array.of(0))
}

export function decodeAuthEip8(plain: Uint8Array): AuthBody {
  const items = decodeList(plain, 'auth', 4)
  return {
    signature: field(items, 0, 65, 'auth signature'),
    initiatorId: field(items, 1, 64, 'auth initiator id'),
    nonce: field(items, 2, 32, 'auth nonce'),
    version: versionOf(items[3]),
  }
}

export function decodeAckEip8(plain: Uint8Array): AckBody {
  const items = decodeList(plain, 'ack', 3)
  return {
    ephemeralId: field(items, 0, 64, 'ack ephemeral id'),
    nonce: field(items, 1, 32, 'ack nonce'),
    version: versionOf(items[2]),
  }
}

export function decodeAuthLegacy(plain: Uint8Array): AuthBody {
  if (plain.length !== LEGACY_AUTH_BODY_SIZE) {
    throw new InvalidHandshakeError(`legacy auth body is ${plain.length} bytes, expected ${LEGACY_AUTH_BODY_SIZE}`)
  }
  return {
    signature: plain.subarray(0, 65),
    ephemeralIdHash: plain.subarray(65, 97),
    initiatorId: plain.subarray(97, 161),
    nonce: plain.subarray(161, 193),
    version: plain[193]!,
  }
}

export function decodeAckLegacy(plain: Uint8Array): AckBody {
  if (plain.length !== LEGACY_ACK_BODY_SIZE) {
    throw new InvalidHandshakeError(`legacy ack body is ${plain.length} bytes, expected ${LEGACY_ACK_BODY_SIZE}`)
  }
  return { ephemeralId: plain.subarray(0, 64), nonce: plain.subarray(64, 96), version: plain[96]! }
}

type Item = Uint8Array | Item[]

function decodeList(plain: Uint8Array, what: string, minItems: number): Item[] {
  let data: Item
  try {
    // stream mode: the RLP list is followed by padding, which must be ignored
    data = RLP.decode(plain, true).data
  } catch (err) {
    throw new InvalidHandshakeError(`${what} body is not valid RLP`, err)
  }
  if (!Array.isArray(data)) throw new InvalidHandshakeError(`${what} body is not an RLP list`)
  if (data.length < minItems) throw new InvalidHandshakeError(`${what} body has ${data.length} items, expected at least ${minItems}`)
  return data
}

function field(items: Item[], index: number, size: number, what: string): Uint8Array {
  const v = items[index]
  if (!(v instanceof Uint8Array) || v.length !== size) {
    throw new InvalidHandshakeError(`${what} must be ${size} bytes`)
  }
  return v
}

/** Version as a number; EIP-8 says never reject on it, so oversized values saturate instead of failing. */
function versionOf(item: Item | undefined): number {
  if (!(item instanceof Uint8Array)) return 0
  if (item.length > 6) return Number.MAX_SAFE_INTEGER
  let v = 0
  for (const b of item) v = v * 256 + b
  return v
}
