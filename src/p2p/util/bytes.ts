/** Byte equality. Node ids and protocol messages are public, so a constant-time compare is not needed. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** a XOR b over the length of `a` (callers pass equal lengths). */
export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Lower-case hex without prefix, for ids in logs and error messages. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** A short form of a 64-byte node id for log lines. */
export function shortId(id: Uint8Array): string {
  const hex = toHex(id)
  return hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-8)}` : hex
}
