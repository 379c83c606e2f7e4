import { calculateSigRecovery, concatBytes, setLengthLeft } from '@ethereumjs/util'
import * as ecc from 'tiny-secp256k1'

/**
 * Transaction signature recovery through libsecp256k1 (tiny-secp256k1, WebAssembly), the
 * primitive the P2P handshake and discovery already use, for @ethereumjs's
 * `customCrypto.ecrecover`. @ethereumjs/util's own ecrecover is pure JavaScript: about 3.3 ms
 * per signature here, against about 0.5 ms, and every transaction is recovered when a pool
 * admits it and when a block holding it is validated, on every node it passes. Same contract
 * as @ethereumjs/util's: v is 0/1, 27/28 or EIP-155 (with `chainId`); returns the 64-byte
 * public key without the 0x04 prefix; throws for a v or a signature that recovers nothing.
 */
export function ecrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint): Uint8Array {
  const recovery = calculateSigRecovery(v, chainId)
  if (recovery !== 0n && recovery !== 1n) throw new Error('Invalid signature v value')
  const signature = concatBytes(setLengthLeft(r, 32), setLengthLeft(s, 32))
  let key: Uint8Array | null
  try {
    key = ecc.recover(msgHash, signature, Number(recovery) as ecc.RecoveryIdType, false)
  } catch (err) {
    // tiny-secp256k1 throws for r or s outside [1, n)
    throw new Error(`Invalid signature: ${(err as Error).message}`)
  }
  if (key === null) throw new Error('Invalid signature: no public key recovers')
  return key.subarray(1)
}
