import { type Input, RLP } from '@ethereumjs/rlp'
import { keccak_256 } from '@noble/hashes/sha3.js'

/**
 * Root of an Ethereum "ordered" Merkle-Patricia trie: item i stored under key RLP(i). This is
 * how transactions, receipts and withdrawals are committed to in a header. It is computed here
 * directly from the encoded items (no trie database), so verifying a peer's body or receipts
 * needs neither decoding nor @ethereumjs/mpt — and is independent of the code that built them.
 */
export function orderedTrieRoot(values: readonly Uint8Array[]): Uint8Array {
  const entries: Entry[] = values.map((value, i) => ({ key: toNibbles(RLP.encode(i)), value }))
  entries.sort((a, b) => compareNibbles(a.key, b.key))
  if (entries.length === 0) return keccak_256(RLP.encode(new Uint8Array(0)))
  return keccak_256(RLP.encode(buildNode(entries, 0)))
}

interface Entry {
  key: Uint8Array // nibbles
  value: Uint8Array
}

/** Nodes are RLP-encodable structures: leaf/extension [path, x], branch [17 items]. */
type Node = Input[]

function buildNode(entries: Entry[], depth: number): Node {
  if (entries.length === 1) {
    const e = entries[0]!
    return [hexPrefix(e.key.subarray(depth), true), e.value]
  }
  const shared = sharedPrefixLength(entries, depth)
  if (shared > 0) {
    const path = entries[0]!.key.subarray(depth, depth + shared)
    return [hexPrefix(path, false), reference(buildNode(entries, depth + shared))]
  }
  return buildBranch(entries, depth)
}

function buildBranch(entries: Entry[], depth: number): Node {
  const slots: Input[] = new Array<Input>(17).fill(new Uint8Array(0))
  let start = 0
  if (entries[0]!.key.length === depth) {
    // A key ending exactly here keeps its value in the branch's 17th slot.
    slots[16] = entries[0]!.value
    start = 1
  }
  while (start < entries.length) {
    const nibble = entries[start]!.key[depth]!
    let end = start + 1
    while (end < entries.length && entries[end]!.key[depth] === nibble) end++
    slots[nibble] = reference(buildNode(entries.slice(start, end), depth + 1))
    start = end
  }
  return slots
}

/** A child is embedded when its encoding is shorter than 32 bytes, else referenced by hash. */
function reference(node: Node): Input {
  const encoded = RLP.encode(node)
  return encoded.length < 32 ? node : keccak_256(encoded)
}

function sharedPrefixLength(entries: Entry[], depth: number): number {
  const first = entries[0]!.key
  const last = entries[entries.length - 1]!.key // sorted: first and last bound the prefix
  let n = 0
  while (depth + n < first.length && depth + n < last.length && first[depth + n] === last[depth + n]) n++
  return n
}

/** Compact (hex-prefix) encoding of a nibble path, with the leaf flag. */
function hexPrefix(path: Uint8Array, leaf: boolean): Uint8Array {
  const odd = path.length % 2 === 1
  const out = new Uint8Array(Math.floor(path.length / 2) + 1)
  const flag = (leaf ? 2 : 0) + (odd ? 1 : 0)
  out[0] = odd ? (flag << 4) | path[0]! : flag << 4
  for (let i = odd ? 1 : 0, o = 1; i < path.length; i += 2, o++) out[o] = (path[i]! << 4) | path[i + 1]!
  return out
}

function toNibbles(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = bytes[i]! >> 4
    out[2 * i + 1] = bytes[i]! & 0x0f
  }
  return out
}

function compareNibbles(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
