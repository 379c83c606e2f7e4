/** Small formatting helpers shared by the log lines, status lines and tables. */

/** Time of day with milliseconds, local time: log lines of one run are read side by side. */
export function timestamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}`
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** 1536 -> "1.5 KiB"; exact bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '-'
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** 1234 -> "1.2 s", 56 -> "56 ms". */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** First 8 hex characters of a node id or hash: enough to tell the nodes of a run apart. */
export function shortHex(hex: string): string {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex
  return h.slice(0, 8)
}

/** Right-aligns numbers and left-aligns text in a plain-text table with a header rule. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (numeric[c] === true ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(header), rule, ...rows.map(line)]
}

/** "1 node", "3 nodes". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
