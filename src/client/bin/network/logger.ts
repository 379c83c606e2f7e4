import { timestamp } from './format'

/** What a log line is about; fixed names so lines of one kind can be grepped and aligned. */
export type LogCategory =
  | 'setup'
  | 'listen'
  | 'discover'
  | 'connect'
  | 'upgrade'
  | 'stream'
  | 'protocol'
  | 'status'
  | 'request'
  | 'serve'
  | 'sync'
  | 'chain'
  | 'tx'
  | 'disconnect'
  | 'error'
  | 'check'
  | 'monitor'
  | 'shutdown'

/** Longest category name plus a space. */
const CATEGORY_WIDTH = 11

/** Where output goes: stdout for the CLI, an array in tests. */
export type LineSink = (line: string) => void

/**
 * Timestamped, aligned log lines: `HH:MM:SS.mmm  <node>  <category>  <text>`.
 * The node column is as wide as the longest label of the run, so columns line
 * up however many nodes there are.
 */
export class NetworkLogger {
  private labelWidth = 5

  constructor(
    private readonly sink: LineSink,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Widens the node column for `labels` (call once the node labels are known). */
  fitLabels(labels: readonly string[]): void {
    for (const l of labels) this.labelWidth = Math.max(this.labelWidth, l.length)
  }

  log(label: string, category: LogCategory, text: string): void {
    this.sink(`${timestamp(this.clock())}  ${label.padEnd(this.labelWidth)}  ${category.padEnd(CATEGORY_WIDTH)}${text}`)
  }

  /** Unprefixed lines (tables, summaries, usage). */
  raw(text: string): void {
    for (const line of text.split('\n')) this.sink(line)
  }
}
