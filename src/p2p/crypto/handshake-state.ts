import { randomBytes } from 'node:crypto'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { equalBytes, xorBytes } from '../util/bytes'
import { EciesError, InvalidHandshakeError } from './errors'
import {
  decodeAckEip8,
  decodeAckLegacy,
  decodeAuthEip8,
  decodeAuthLegacy,
  encodeAckEip8,
  encodeAckLegacy,
  encodeAuthEip8,
} from './messages'
import { sealEip8, sealLegacy, type OpenedPacket } from './packets'
import { deriveSecrets, type Secrets } from './secrets'
import { staticAgree } from './static-secret'
import { idToPublicKey, publicKeyToId, randomKeyPair, recoverPublicKey, signRecoverable, type KeyPair } from './secp256k1'

/**
 * The cryptographic half of the RLPx handshake, free of I/O: each instance is
 * one connection's handshake with its own ephemeral key and nonce, created
 * fresh per connection (never shared, never reused).
 */

/** Fixed ephemeral key / nonce, only for reproducing published test vectors. */
export interface HandshakeOverrides {
  ephemeralKey?: KeyPair
  nonce?: Uint8Array
}

/** What the initiator side knows about the remote after a successful handshake. */
export interface RemoteInfo {
  publicKey: Uint8Array
  id: Uint8Array
  ephemeralPublicKey: Uint8Array
  nonce: Uint8Array
  version: number
  legacy: boolean
}

export class InitiatorHandshake {
  /** The auth packet to send, EIP-8 format. */
  readonly authPacket: Uint8Array
  readonly #ephemeralKey: KeyPair
  readonly #nonce: Uint8Array

  constructor(staticKey: KeyPair, remotePublicKey: Uint8Array, overrides: HandshakeOverrides = {}) {
    this.#ephemeralKey = overrides.ephemeralKey ?? randomKeyPair()
    this.#nonce = overrides.nonce ?? randomBytes(32)
    const staticShared = staticAgree(staticKey, remotePublicKey)
    const signature = signRecoverable(xorBytes(staticShared, this.#nonce), this.#ephemeralKey.privateKey)
    const body = encodeAuthEip8({ signature, initiatorId: publicKeyToId(staticKey.publicKey), nonce: this.#nonce })
    this.authPacket = sealEip8(remotePublicKey, body)
  }

  /** Consumes the recipient's ack (EIP-8 or legacy) and derives the session secrets. */
  receiveAck(opened: OpenedPacket): { secrets: Secrets; ack: { ephemeralPublicKey: Uint8Array; nonce: Uint8Array; version: number } } {
    const ack = opened.legacy ? decodeAckLegacy(opened.plaintext) : decodeAckEip8(opened.plaintext)
    const ephemeralPublicKey = remoteKey(ack.ephemeralId, 'ack ephemeral key')
    const secrets = deriveSecrets({
      initiator: true,
      ephemeralShared: this.#ephemeralKey.agree(ephemeralPublicKey),
      localNonce: this.#nonce,
      remoteNonce: ack.nonce,
      localPacket: this.authPacket,
      remotePacket: opened.packet,
    })
    return { secrets, ack: { ephemeralPublicKey, nonce: ack.nonce, version: ack.version } }
  }
}

export class ResponderHandshake {
  readonly #staticKey: KeyPair
  readonly #ephemeralKey: KeyPair
  readonly #nonce: Uint8Array
  #remote: (RemoteInfo & { packet: Uint8Array }) | undefined

  constructor(staticKey: KeyPair, overrides: HandshakeOverrides = {}) {
    this.#staticKey = staticKey
    this.#ephemeralKey = overrides.ephemeralKey ?? randomKeyPair()
    this.#nonce = overrides.nonce ?? randomBytes(32)
  }

  /** Authenticates the initiator's auth (EIP-8 or legacy): who it is and its ephemeral key. */
  receiveAuth(opened: OpenedPacket): RemoteInfo {
    const auth = opened.legacy ? decodeAuthLegacy(opened.plaintext) : decodeAuthEip8(opened.plaintext)
    const publicKey = remoteKey(auth.initiatorId, 'auth initiator key')
    const staticShared = staticAgree(this.#staticKey, publicKey)
    let ephemeralPublicKey: Uint8Array
    try {
      ephemeralPublicKey = recoverPublicKey(auth.signature, xorBytes(staticShared, auth.nonce))
    } catch (err) {
      throw new InvalidHandshakeError('auth signature does not recover a public key', err)
    }
    if (auth.ephemeralIdHash !== undefined && !equalBytes(keccak_256(publicKeyToId(ephemeralPublicKey)), auth.ephemeralIdHash)) {
      throw new InvalidHandshakeError('legacy auth ephemeral key hash does not match its signature')
    }
    const remote = {
      publicKey,
      id: publicKeyToId(publicKey),
      ephemeralPublicKey,
      nonce: auth.nonce,
      version: auth.version,
      legacy: opened.legacy,
      packet: opened.packet,
    }
    this.#remote = remote
    return remote
  }

  /** Builds the ack (legacy in answer to a legacy auth, as EIP-8 asks) and the session secrets. */
  respond(): { ackPacket: Uint8Array; secrets: Secrets } {
    const remote = this.#remote
    if (remote === undefined) throw new EciesError('ERR_ECIES_INVALID_STATE', 'respond() before receiveAuth()')
    const body = { ephemeralId: publicKeyToId(this.#ephemeralKey.publicKey), nonce: this.#nonce }
    const ackPacket = remote.legacy
      ? sealLegacy(remote.publicKey, encodeAckLegacy(body))
      : sealEip8(remote.publicKey, encodeAckEip8(body))
    const secrets = deriveSecrets({
      initiator: false,
      ephemeralShared: this.#ephemeralKey.agree(remote.ephemeralPublicKey),
      localNonce: this.#nonce,
      remoteNonce: remote.nonce,
      localPacket: ackPacket,
      remotePacket: remote.packet,
    })
    return { ackPacket, secrets }
  }
}

function remoteKey(id: Uint8Array, what: string): Uint8Array {
  try {
    return idToPublicKey(id, what)
  } catch (err) {
    throw new InvalidHandshakeError(`${what} is not a valid secp256k1 point`, err)
  }
}
