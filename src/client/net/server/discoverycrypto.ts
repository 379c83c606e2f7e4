import { bytesToBigInt } from '@ethereumjs/util'

import { recoverPublicKey, signRecoverable } from '../../../p2p'

import type { Common, CustomCrypto } from '@ethereumjs/common'

/**
 * The Common handed to devp2p's DPT, with discv4's signature work moved to
 * libsecp256k1 (WebAssembly, the same primitives as our handshake).
 *
 * Every discv4 packet is signed by its sender and its sender's key is
 * recovered from the signature by the receiver. With devp2p's default
 * (ethereum-cryptography, pure JS) a CPU profile of 50 nodes in one process
 * spent most of its time there; libsecp256k1 does the same work several
 * times faster. DPT reads these two
 * functions from `common.customCrypto` (dpt/message.js); nothing else about
 * the Common changes, and the chain's own Common is left untouched.
 */
export function discoveryCommon(common: Common): Common {
  const copy = common.copy()
  ;(copy as { customCrypto: CustomCrypto }).customCrypto = {
    ...common.customCrypto,
    ecsign: discv4Sign,
    ecdsaRecover: discv4Recover,
  }
  return copy
}

/** What DPT reads of a signature: r, s and the recovery id. */
interface RecoverableSignature {
  r: bigint
  s: bigint
  recovery: number
}

function sign(digest: Uint8Array, privateKey: Uint8Array): RecoverableSignature {
  const sig = signRecoverable(digest, privateKey)
  return { r: bytesToBigInt(sig.subarray(0, 32)), s: bytesToBigInt(sig.subarray(32, 64)), recovery: sig[64]! }
}

// CustomCrypto types ecsign as @noble/curves' sign (a full signature object); DPT uses only r, s and recovery.
const discv4Sign = sign as unknown as NonNullable<CustomCrypto['ecsign']>

/** 65-byte uncompressed key of a 64-byte r || s signature with its recovery id; throws if none recovers. */
function discv4Recover(signature: Uint8Array, recoveryId: number, digest: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new Error(`discv4 signature must be 64 bytes, got ${signature.length}`)
  const withId = new Uint8Array(65)
  withId.set(signature, 0)
  withId[64] = recoveryId
  return recoverPublicKey(withId, digest)
}
