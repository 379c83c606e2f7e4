import { EthCodecError } from './errors'

import type { RlpItem } from './rlpfields'

/**
 * Strict, zero-copy RLP decoder for inbound ETH payloads.
 *
 * Why not @ethereumjs/rlp's decode: it copies every nested list's bytes
 * (O(size x depth)) and has no depth bound, so a 10 MiB message of nested
 * lists costs minutes of CPU before failing. Here items are subarray views of
 * the input (the caller must not mutate the input afterwards), depth is
 * bounded, and every non-canonical form is rejected.
 */

/**
 * Deepest list nesting accepted. The deepest ETH message (Receipts:
 * payload > blocks > receipts > receipt > logs > log > topics) is 7 levels;
 * NewBlock with withdrawals is 5. 16 leaves room without allowing abuse.
 */
export const MAX_RLP_DEPTH = 16

export function decodeRlp(input: Uint8Array, maxDepth = MAX_RLP_DEPTH): RlpItem {
  if (input.length === 0) throw new EthCodecError('RLP: empty input')
  const end = { pos: 0 }
  const item = decodeAt(input, 0, input.length, maxDepth, end)
  if (end.pos !== input.length) throw new EthCodecError(`RLP: ${input.length - end.pos} trailing bytes`)
  return item
}

/** Reads a big-endian length of `n` bytes at `pos`: canonical (no leading zero) and before `limit`. */
function readLength(input: Uint8Array, pos: number, limit: number, n: number): number {
  if (pos + n > limit) throw new EthCodecError('RLP: truncated length')
  if (input[pos] === 0) throw new EthCodecError('RLP: length with leading zero byte')
  // Lengths beyond 4 bytes exceed any input we could hold; stop before losing precision.
  if (n > 4) throw new EthCodecError('RLP: length exceeds input')
  let len = 0
  for (let i = 0; i < n; i++) len = len * 256 + input[pos + i]
  if (len < 56) throw new EthCodecError('RLP: long form used for a short length')
  return len
}

/** Decodes the item at `pos`, which must end by `limit` (the end of the enclosing list); sets end.pos past it. */
function decodeAt(input: Uint8Array, pos: number, limit: number, depth: number, end: { pos: number }): RlpItem {
  const b = input[pos]
  if (b < 0x80) {
    end.pos = pos + 1
    return input.subarray(pos, pos + 1)
  }
  if (b <= 0xbf) {
    let start = pos + 1
    let len = b - 0x80
    if (b > 0xb7) {
      len = readLength(input, start, limit, b - 0xb7)
      start += b - 0xb7
    }
    if (start + len > limit) throw new EthCodecError('RLP: string exceeds its enclosing list or input')
    if (len === 1 && input[start] < 0x80) throw new EthCodecError('RLP: single byte below 0x80 must not be prefixed')
    end.pos = start + len
    return input.subarray(start, start + len)
  }
  if (depth === 0) throw new EthCodecError(`RLP: lists nested deeper than ${MAX_RLP_DEPTH}`)
  let start = pos + 1
  let len = b - 0xc0
  if (b > 0xf7) {
    len = readLength(input, start, limit, b - 0xf7)
    start += b - 0xf7
  }
  const stop = start + len
  if (stop > limit) throw new EthCodecError('RLP: list exceeds its enclosing list or input')
  const items: RlpItem[] = []
  let p = start
  while (p < stop) {
    items.push(decodeAt(input, p, stop, depth - 1, end))
    p = end.pos
  }
  end.pos = stop
  return items
}
