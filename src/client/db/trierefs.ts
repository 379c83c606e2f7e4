import { RLP } from '@ethereumjs/rlp'
import { KECCAK256_NULL, KECCAK256_RLP, equalsBytes } from '@ethereumjs/util'

/** What a stored trie node refers to by hash. */
export interface NodeRefs {
  /** Child nodes stored under their own hash (32-byte references; smaller children are inlined). */
  nodes: Uint8Array[]
  /** The contract code an account leaf names, if it has code. */
  code?: Uint8Array
}

type Raw = Uint8Array | Raw[]

/**
 * The references of one encoded trie node of the state (account trie or a storage trie):
 * the 32-byte child references of a branch or an extension, and for an account leaf its
 * storage trie's root and its code hash. Storage leaves refer to nothing. A node of another
 * shape is reported as having no references (the trie would not have produced it).
 *
 * Whether a leaf is an account is read from its value: an account is an RLP list of four
 * items with a 32-byte storage root and code hash, a storage value is an RLP string.
 */
export function nodeRefs(encoded: Uint8Array): NodeRefs {
  const refs: NodeRefs = { nodes: [] }
  collect(RLP.decode(encoded) as Raw, refs)
  return refs
}

function collect(raw: Raw, refs: NodeRefs): void {
  if (!Array.isArray(raw)) return
  if (raw.length === 17) {
    for (let i = 0; i < 16; i++) child(raw[i]!, refs)
    return
  }
  if (raw.length !== 2) return
  const path = raw[0]
  if (!(path instanceof Uint8Array) || path.length === 0) return
  const isLeaf = path[0]! >> 4 >= 2
  if (isLeaf) accountRefs(raw[1]!, refs)
  else child(raw[1]!, refs)
}

function child(ref: Raw, refs: NodeRefs): void {
  if (ref instanceof Uint8Array) {
    if (ref.length === 32) refs.nodes.push(ref)
  } else {
    collect(ref, refs) // an inlined node (under 32 bytes encoded)
  }
}

function accountRefs(value: Raw, refs: NodeRefs): void {
  if (!(value instanceof Uint8Array) || value.length === 0 || value[0]! < 0xc0) return
  let account: Raw
  try {
    account = RLP.decode(value) as Raw
  } catch {
    return // not RLP: a storage value cannot be a list, so this is no account either
  }
  if (!Array.isArray(account) || account.length !== 4) return
  const [, , storageRoot, codeHash] = account
  if (storageRoot instanceof Uint8Array && storageRoot.length === 32 && !equalsBytes(storageRoot, KECCAK256_RLP)) refs.nodes.push(storageRoot)
  if (codeHash instanceof Uint8Array && codeHash.length === 32 && !equalsBytes(codeHash, KECCAK256_NULL)) refs.code = codeHash
}
