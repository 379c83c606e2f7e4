/**
 * Result rows, the printed table and the one JSON line per benchmark.
 *
 * Every row compares one figure of ours with one anchor figure measured in
 * the same process run. `ratio` is always oriented so that > 1 means ours is
 * better: ours / anchor when higher is better (rates), anchor / ours when
 * lower is better (latency, bytes, seconds). For a ceiling row (TCP loopback,
 * crypto ceiling) the ratio is the fraction of the ceiling we reach.
 */

export type Better = 'higher' | 'lower'

export interface RowInput {
  /** What is measured, e.g. 'sequential' or 'latency p99'. */
  metric: string
  unit: string
  better: Better
  ours: number
  anchor: number
  /** Name of what `anchor` measured, e.g. 'devp2p RLPx', '@libp2p/mplex'. */
  anchorName: string
  /** The target for `ratio` (a minimum), when it sets one for this row. */
  target?: number
  /** Free-form detail for the table (sizes, counts, spread). */
  note?: string
}

export interface Row extends RowInput {
  ratio: number
}

export interface BenchReport {
  bench: string
  rounds: number
  rows: Row[]
  /** Index into `rows` of the figure the target is about; it fills the JSON line's top level. */
  headline: number
  /** Lines printed under the table (method, caveats, what could not run). */
  notes: string[]
}

export function ratioOf(r: Pick<RowInput, 'better' | 'ours' | 'anchor'>): number {
  if (!Number.isFinite(r.ours) || !Number.isFinite(r.anchor) || r.ours <= 0 || r.anchor <= 0) return Number.NaN
  return r.better === 'higher' ? r.ours / r.anchor : r.anchor / r.ours
}

export function row(input: RowInput): Row {
  return { ...input, ratio: ratioOf(input) }
}

/** Three significant digits, no exponent for the magnitudes benches produce. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a'
  const abs = Math.abs(n)
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US')
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 10) return n.toFixed(1)
  if (abs >= 1) return n.toFixed(2)
  return n.toPrecision(3)
}

export function fmtRatio(r: Row): string {
  if (!Number.isFinite(r.ratio)) return 'n/a'
  const text = `${r.ratio >= 10 ? r.ratio.toFixed(1) : r.ratio.toFixed(2)}×`
  if (r.target === undefined) return text
  return `${text} ${r.ratio >= r.target ? 'met' : 'missed'} (target ≥ ${r.target}×)`
}

/** The table as lines of text (also used for RESULTS.md, inside a code block). */
export function tableLines(report: BenchReport): string[] {
  const header = ['metric', 'unit', 'ours', 'anchor', 'anchor is', 'ratio (>1: ours better)', 'note']
  const body = report.rows.map((r) => [r.metric, r.unit, fmt(r.ours), fmt(r.anchor), r.anchorName, fmtRatio(r), r.note ?? ''])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= 2 && i <= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)]
}

export interface JsonLine {
  bench: string
  metric: string
  unit: string
  better: Better
  ours: number
  anchor: number
  ratio: number
  rounds: number
  runtime: string
  quick: boolean
  rows: Row[]
  notes: string[]
}

export function jsonLine(report: BenchReport, meta: { runtime: string; quick: boolean }): JsonLine {
  const h = report.rows[report.headline]
  if (h === undefined) throw new RangeError(`${report.bench}: headline row ${report.headline} does not exist`)
  return {
    bench: report.bench,
    metric: h.metric,
    unit: h.unit,
    better: h.better,
    ours: round(h.ours),
    anchor: round(h.anchor),
    ratio: round(h.ratio),
    rounds: report.rounds,
    runtime: meta.runtime,
    quick: meta.quick,
    rows: report.rows.map((r) => ({ ...r, ours: round(r.ours), anchor: round(r.anchor), ratio: round(r.ratio) })),
    notes: report.notes,
  }
}

function round(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(6)) : Number.NaN
}

/** Prints the table, the notes and the JSON line (the line starts with `{"bench":`, one line, greppable). */
export function printReport(report: BenchReport, meta: { runtime: string; quick: boolean }, out: (s: string) => void): void {
  out('')
  out(`== ${report.bench} (${report.rounds} round${report.rounds === 1 ? '' : 's'}, ${meta.runtime}${meta.quick ? ', quick' : ''})`)
  for (const l of tableLines(report)) out(l)
  for (const n of report.notes) out(`  * ${n}`)
  out(JSON.stringify(jsonLine(report, meta)))
}
