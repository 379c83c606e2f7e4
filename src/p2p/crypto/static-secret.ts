import { LruMap } from '../util/lru'

import type { KeyPair } from './secp256k1'

/**
 * Static-static ECDH results, per local static key and remote public key.
 *
 * Every RLPx handshake computes x(k_local * K_remote) for the two nodes' static
 * keys: the initiator signs it (xor nonce) in its auth, the responder needs it
 * to recover the initiator's ephemeral key. For a given pair of nodes the value
 * never changes, yet each computation is a full scalar multiplication (one of
 * the ~nine EC operations that bound connection set-up). Peers reconnect
 * often (redials, duplicate-connection tie-breaks, pool churn), so the result
 * is kept in a bounded LRU table. Nothing on the wire changes, and the table
 * holds nothing more sensitive than the static private key already in memory.
 */

/**
 * Remote keys remembered per local key. At ~200 bytes an entry, 1,024 cost
 * ~200 KiB per node key — about a peer table's worth of recent peers.
 */
export const STATIC_SECRET_CACHE_SIZE = 1024

const tables = new WeakMap<KeyPair, LruMap<string, Uint8Array>>()

/** x(staticKey * remotePublicKey), computed once per remote key while it stays in the table. */
export function staticAgree(staticKey: KeyPair, remotePublicKey: Uint8Array): Uint8Array {
  let table = tables.get(staticKey)
  if (table === undefined) {
    table = new LruMap(STATIC_SECRET_CACHE_SIZE)
    tables.set(staticKey, table)
  }
  const key = Buffer.from(remotePublicKey.buffer, remotePublicKey.byteOffset, remotePublicKey.byteLength).toString('latin1')
  const hit = table.get(key)
  if (hit !== undefined) return Uint8Array.from(hit)
  const secret = staticKey.agree(remotePublicKey) // throws on an invalid point: nothing is cached then
  table.set(key, Uint8Array.from(secret))
  return secret
}
