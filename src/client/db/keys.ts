/**
 * The layout of a dataDir's database: one LevelDB, its records told apart by their first key
 * byte. One database means one lock, one atomic batch for a block and everything it changes,
 * and one file set to back up.
 *
 *   b<key>                 @ethereumjs/blockchain's records (headers, bodies, total
 *                          difficulties, the canonical number->hash index, its head pointers)
 *   x<block hash>          the block's receipts, as RLP of the consensus-encoded list
 *   n<node hash>           a state trie node (account and storage tries share one node store)
 *   r<node hash>           how many references the node has (parent nodes, retained state roots)
 *   c<code hash>           contract code (the key @ethereumjs/statemanager gives code)
 *   s<number><block hash>  a retained state: the block's state root (8-byte big-endian number)
 *   m<name>                the store's own records: schema version, genesis, head
 *   p<node id>             a node seen through discovery or a peer that had a session
 */
const byte = (c: string): Uint8Array => Uint8Array.of(c.charCodeAt(0))

export const BLOCKCHAIN_PREFIX = byte('b')
export const RECEIPTS_PREFIX = byte('x')
export const NODE_PREFIX = byte('n')
export const REFCOUNT_PREFIX = byte('r')
export const CODE_PREFIX = byte('c')
export const STATE_ROOT_PREFIX = byte('s')
export const META_PREFIX = byte('m')
export const PEER_PREFIX = byte('p')
