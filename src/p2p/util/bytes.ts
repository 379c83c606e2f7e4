/** Byte equality. Node ids are public, so a constant-time compare is not needed. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
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
