/**
 * Regenerates docs/RELIABILITY.md from vitest JSON reports:
 *
 *   npx vitest run test/reliability --reporter=json --outputFile=reports/reliability.json
 *   FUZZ_RUNS=10000 npx vitest run test/fuzz --reporter=json --outputFile=reports/fuzz.json   (optional)
 *   npx tsx scripts/reliability-report.ts reports/reliability.json [reports/fuzz.json] [--out docs/RELIABILITY.md]
 *
 * The case table comes from the task metadata test/reliability/table.ts
 * attaches to every case (`meta.reliability`), the fuzz summary from the
 * metadata of test/fuzz (`meta.fuzz`), and the limits table from the source:
 * every exported DEFAULT_* / MAX_* constant of src/p2p and src/client is
 * imported (values are never copied by hand) and described by the doc comment
 * above it. Exits 1 when a case failed or no case was found, after writing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DEFAULT_OUT = join(ROOT, 'docs', 'RELIABILITY.md')
/** Source trees whose limits are listed. Test-chain building and the demo script's CLI options are not node limits. */
const LIMIT_ROOTS = ['src/p2p', 'src/client']
const LIMIT_EXCLUDES = ['src/client/testing/', 'src/client/bin/']
const LIMIT_NAME = /^export const ((?:DEFAULT|MAX)_[A-Z0-9_]+)\b/
/** Layers bottom-up, the order the tables are printed in (see Layer in test/reliability/table.ts). */
const LAYER_ORDER = ['tcp', 'codec', 'ecies', 'rlpx', 'multistream', 'mplex', 'stack', 'eth', 'node', 'sync', 'storage', 'rpc', 'faults']

// ---- vitest JSON ----

interface CaseMeta {
  layer: string
  case: string
  expected: string
}

interface AssertionResult {
  ancestorTitles: string[]
  title: string
  fullName: string
  status: string
  failureMessages?: string[]
  meta?: { reliability?: CaseMeta; fuzz?: { runs: number; seed?: number } }
}

interface VitestReport {
  startTime?: number
  testResults: Array<{ name: string; assertionResults: AssertionResult[] }>
}

interface CaseRow extends CaseMeta {
  status: string
  file: string
  failure?: string
}

interface FuzzRow {
  file: string
  property: string
  runs?: number
  status: string
  failure?: string
}

function readReport(path: string): VitestReport {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<VitestReport>
  if (!Array.isArray(parsed.testResults)) throw new Error(`${path} is not a vitest JSON report (no testResults)`)
  return parsed as VitestReport
}

function firstLine(messages: string[] | undefined): string | undefined {
  const m = messages?.[0]
  if (m === undefined) return undefined
  return m.split('\n').find((l) => l.trim() !== '')?.trim()
}

/** Rows of every report; a test file that appears in several reports counts from the last one (a rerun). */
function collect(reports: VitestReport[]): { cases: CaseRow[]; fuzz: FuzzRow[] } {
  const latest = new Map<string, VitestReport['testResults'][number]>()
  for (const report of reports) for (const file of report.testResults) latest.set(file.name, file)
  const cases: CaseRow[] = []
  const fuzz: FuzzRow[] = []
  for (const file of latest.values()) {
    const rel = relative(ROOT, file.name)
    for (const a of file.assertionResults) {
      const failure = a.status === 'failed' ? firstLine(a.failureMessages) : undefined
      const meta = a.meta?.reliability
      if (meta !== undefined) cases.push({ ...meta, status: a.status, file: rel, failure })
      else if (rel.startsWith('test/fuzz/')) {
        const property = [...a.ancestorTitles, a.title].join(' › ')
        fuzz.push({ file: rel, property, runs: a.meta?.fuzz?.runs, status: a.status, failure })
      }
    }
  }
  return { cases, fuzz }
}

// ---- limits from the source ----

interface LimitRow {
  name: string
  value: unknown
  file: string
  doc: string
}

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`
    if (entry.isDirectory()) out.push(...sourceFiles(rel))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel)
  }
  return out.sort()
}

/** The doc comment (or line comments) right above line `index`, as one line of text. */
function docAbove(lines: string[], index: number): string {
  const parts: string[] = []
  let i = index - 1
  if (lines[i]?.trim().endsWith('*/')) {
    while (i >= 0 && !lines[i]!.trim().startsWith('/**') && !lines[i]!.trim().startsWith('/*')) i--
    for (let k = i; k < index; k++) parts.push(lines[k]!)
  } else {
    while (i >= 0 && lines[i]!.trim().startsWith('//')) parts.unshift(lines[i--]!)
  }
  return parts
    .join(' ')
    .replace(/\/\*\*?|\*\/|^\s*\/\/|\s\/\/\s/g, ' ')
    .replace(/\s\*\s/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}

async function collectLimits(): Promise<LimitRow[]> {
  const rows: LimitRow[] = []
  for (const root of LIMIT_ROOTS) {
    for (const file of sourceFiles(root)) {
      if (LIMIT_EXCLUDES.some((x) => file.startsWith(x))) continue
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
      const found: Array<{ name: string; doc: string }> = []
      lines.forEach((line, i) => {
        const m = LIMIT_NAME.exec(line)
        if (m !== null) found.push({ name: m[1]!, doc: docAbove(lines, i) })
      })
      if (found.length === 0) continue
      const mod = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, unknown>
      for (const { name, doc } of found) {
        if (!(name in mod)) throw new Error(`${file} declares ${name} but the module does not export it`)
        rows.push({ name, value: mod[name], file, doc })
      }
    }
  }
  return rows
}

/** Constants whose value is a number of bytes (others, like pool sizes or counts, are printed as they are). */
const BYTE_SIZED = /(BYTES|BUFFER|MARK|FRAME_SIZE|MESSAGE_SIZE|MESSAGE_LENGTH|PACKET_SIZE|RESPONSE_LENGTH|SOFT_LIMIT)/

const KiB = 1024
const MiB = 1024 * KiB

function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`
  return `${n} B`
}

function formatValue(name: string, value: unknown): string {
  if (typeof value === 'bigint') return `${value}`
  if (typeof value === 'string') return `'${value}'`
  if (typeof value !== 'number') return JSON.stringify(value)
  if (!Number.isFinite(value)) return String(value)
  if (/_MS$/.test(name)) return value >= 1000 && value % 1000 === 0 ? `${value / 1000} s` : `${value} ms`
  if (/_S$/.test(name)) return `${value} s`
  if (BYTE_SIZED.test(name) && value >= KiB) {
    const pretty = formatBytes(value)
    return pretty.endsWith(' B') ? pretty : `${pretty} (${value})`
  }
  return String(value)
}

// ---- static text ----

/**
 * The rule every id taken from a remote follows, and where each place takes
 * it from (the audit of issue 10), then the Disconnect reason of each way a
 * session ends. Prose lives here because the document is generated.
 */
const IDENTITY_RULE: readonly string[] = [
  '## Peer identity: where a remote\'s id comes from',
  '',
  'A remote is the secp256k1 key its ECIES handshake authenticated, on both paths, and nothing it says later changes that. ' +
    'A dial knows the key it dials (the auth is encrypted to it; the ack and the first MAC-checked frame prove the remote holds it); ' +
    'an accepted connection learns it from the remote\'s auth (its signature binds the key to the secrets every frame is checked with). ' +
    'Every id the node keys anything by (bans, the peer pool, one-session-per-node and the simultaneous-dial tie-break, the dial ' +
    'scheduler, discovery bans) is that key, never an id the remote merely claims.',
  '',
  '| where an id is taken | source | what a lying remote gets |',
  '|---|---|---|',
  '| legacy path: devp2p Hello (`RlpxSessions`, `AuthenticatedPeer`) | the Hello id must equal the ECIES key, checked before devp2p reads the Hello; the session\'s id is the ECIES key | a Hello id that is not 64 bytes or is all zeros: Disconnect INVALID_IDENTITY (0x07); another key\'s id: UNEXPECTED_IDENTITY (0x09), as geth; in both directions, after our Hello and before any eth message; PEER_ERROR under the proved key; nothing is pooled, banned or dialed under the claimed id |',
  '| legacy path: a connection still in its handshake (`RlpxSessions.has`, the dial scheduler\'s "engaged" check) | the ECIES key once the auth arrived (devp2p\'s `getId()` is null until Hello and would then be the Hello\'s word) | nothing: an unproved id never blocks or triggers a dial |',
  '| legacy path: duplicate sessions and the tie-break | the session id above | nothing: a duplicate is decided between proved keys |',
  '| modular path: `Connection.remoteId` (`Upgrader`, the connection gater, `P2PPeer.id`, `SessionTable`) | the key `secureInbound` / `secureOutbound` authenticated; a dial whose key differs is refused | nothing: the id is the proved key whatever the remote says later |',
  '| modular path, RLPx peers: the Hello (`RlpxMuxer`, the one rule `checkHelloIdentity` of `src/p2p/rlpx/identity.ts`, which the legacy path reuses) | the Hello id must equal the ECIES key, checked before any capability message is read | as on the legacy path: INVALID_IDENTITY (0x07) / UNEXPECTED_IDENTITY (0x09), in both directions, after our Hello and before any eth message; PEER_ERROR under the proved key (the same `HelloIdentityError` classes); nothing pooled, banned or dialed under the claimed id |',
  '| bans (`Server.ban`, `PeerPool.ban`, discovery `banPeer`) | a connected peer\'s id, i.e. one of the above | a remote can only get its own key banned |',
  '| discovery (discv4 via devp2p\'s DPT) | a node enters the table with the id recovered from the signature of its pong to our ping | a Neighbours entry is only an endpoint to ping; dialing a listed id still has to pass that key\'s ECIES handshake |',
  '',
  'How the node ends a session, and the devp2p Disconnect reason it sends (`src/client/net/disconnect.ts`), to every RLPx peer on either server; on an mplex connection, which has no Disconnect, the same reason is what the logs, PEER_DISCONNECTED and CONNECTION_CLOSED say:',
  '',
  '| the session ends because | reason |',
  '|---|---|',
  '| a protocol violation: malformed or unexpected message, message before Status, second Status, another chain\'s Status, request flood (the ban follows) | SUBPROTOCOL_ERROR (0x10), as geth for any error of a protocol handler |',
  '| no Status within statusTimeoutMs | TIMEOUT (0x0b) |',
  '| Hello id not a node id / not the authenticated key | INVALID_IDENTITY (0x07) / UNEXPECTED_IDENTITY (0x09) |',
  '| the remote is this node | SAME_IDENTITY (0x0a) |',
  '| a second session with the same node | ALREADY_CONNECTED (0x05) |',
  '| every peer slot taken | TOO_MANY_PEERS (0x04) |',
  '| no capability in common; a banned node dialing in; an operator\'s ban | USELESS_PEER (0x03) |',
  '| the node stops | CLIENT_QUITTING (0x08) |',
  '',
  'A transaction signed for another chain is not a protocol violation: it decodes, the pool drops it, the relaying peer keeps its session. ' +
    'GetBlockHeaders `max` and `skip` are uint64 (2^64-1 is answered, clamped). `maxServeItems` caps every reply and is at most ' +
    '`MAX_SERVE_ITEMS` (1024, geth\'s fixed serve limits); a larger value is a ConfigError.',
]

// ---- markdown ----

const STATUS: Record<string, string> = { passed: 'pass', failed: '**FAIL**', skipped: 'skipped', pending: 'pending', todo: 'todo' }

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function render(cases: CaseRow[], fuzz: FuzzRow[], limits: LimitRow[], sources: string[]): string {
  const out: string[] = []
  const failed = cases.filter((c) => c.status === 'failed')
  out.push('# Reliability: bad input, faults and limits')
  out.push('')
  out.push('<!-- Generated by scripts/reliability-report.ts; do not edit by hand. -->')
  out.push(
    `Generated by \`scripts/reliability-report.ts\` from the vitest JSON report${sources.length > 1 ? 's' : ''} ` +
      `${sources.map((s) => `\`${s}\``).join(', ')}. Regenerate with:`,
  )
  out.push('')
  out.push('```sh')
  out.push('npx vitest run test/reliability --reporter=json --outputFile=reports/reliability.json')
  out.push('FUZZ_RUNS=10000 npx vitest run test/fuzz --reporter=json --outputFile=reports/fuzz.json   # optional: the fuzz summary')
  out.push('npx tsx scripts/reliability-report.ts reports/reliability.json reports/fuzz.json --out docs/RELIABILITY.md')
  out.push('```')
  out.push('')
  out.push(
    'Every case below is one test in `test/reliability/`, declared as `{ layer, case, expected }` ' +
      '(`test/reliability/table.ts`); the expectation is asserted by the test (the typed error class and its `code`, ' +
      'what is closed or reset, and that the rest keeps working where stated).',
  )
  out.push('')
  out.push(...IDENTITY_RULE)
  out.push('')
  out.push('## Summary')
  out.push('')
  out.push('| layer | cases | pass | fail | other |')
  out.push('|---|---:|---:|---:|---:|')
  const rank = (layer: string): number => {
    const i = LAYER_ORDER.indexOf(layer)
    return i < 0 ? LAYER_ORDER.length : i
  }
  const layers = [...new Set(cases.map((c) => c.layer))].sort((x, y) => rank(x) - rank(y) || x.localeCompare(y))
  for (const layer of layers) {
    const rows = cases.filter((c) => c.layer === layer)
    const pass = rows.filter((c) => c.status === 'passed').length
    const fail = rows.filter((c) => c.status === 'failed').length
    out.push(`| ${layer} | ${rows.length} | ${pass} | ${fail} | ${rows.length - pass - fail} |`)
  }
  const total = cases.length
  const passed = cases.filter((c) => c.status === 'passed').length
  out.push(`| **all** | **${total}** | **${passed}** | **${failed.length}** | **${total - passed - failed.length}** |`)
  out.push('')
  out.push('## Cases')
  for (const layer of layers) {
    out.push('')
    out.push(`### ${layer}`)
    out.push('')
    out.push('| case | expected outcome | result | test file |')
    out.push('|---|---|---|---|')
    for (const c of cases.filter((x) => x.layer === layer)) {
      const result = STATUS[c.status] ?? c.status
      const why = c.failure === undefined ? '' : `: ${cell(c.failure)}`
      out.push(`| ${cell(c.case)} | ${cell(c.expected)} | ${result}${why} | \`${c.file}\` |`)
    }
  }
  if (fuzz.length > 0) {
    out.push('')
    out.push('## Fuzzing')
    out.push('')
    out.push(
      'Property-based tests (fast-check) in `test/fuzz/`: no decoder throws anything but its typed error, none hangs, ' +
        'and encode∘decode is the identity on valid input. `npm test` runs them with the default case count, ' +
        '`npm run fuzz` with FUZZ_RUNS=10000. The column gives FUZZ_RUNS of the run; the one property that runs two full ' +
        'EC handshakes per case (a valid auth/ack exchange) uses a quarter of it, the other properties of the same decoder the full count.',
    )
    out.push('')
    out.push('| file | properties | pass | fail | cases per property |')
    out.push('|---|---:|---:|---:|---|')
    for (const file of [...new Set(fuzz.map((f) => f.file))]) {
      const rows = fuzz.filter((f) => f.file === file)
      const runs = [...new Set(rows.map((r) => r.runs).filter((r) => r !== undefined))].join(', ') || 'n/a'
      const pass = rows.filter((r) => r.status === 'passed').length
      const fail = rows.filter((r) => r.status === 'failed').length
      out.push(`| \`${file}\` | ${rows.length} | ${pass} | ${fail} | ${runs} |`)
    }
    const fuzzFailures = fuzz.filter((f) => f.status === 'failed')
    if (fuzzFailures.length > 0) {
      out.push('')
      out.push('Failing properties:')
      out.push('')
      for (const f of fuzzFailures) out.push(`- \`${f.file}\` ${f.property}: ${f.failure ?? ''}`)
    }
  }
  out.push('')
  out.push('## Limits and timeouts')
  out.push('')
  out.push(
    `Every exported \`DEFAULT_*\` / \`MAX_*\` constant of ${LIMIT_ROOTS.map((r) => `\`${r}\``).join(' and ')} ` +
      `(imported by the generator, so the values are the code's), with the reason given in its doc comment. ` +
      `Excluded: ${LIMIT_EXCLUDES.map((x) => `\`${x}\``).join(', ')} (test-chain building and the demo script's own options).`,
  )
  out.push('')
  out.push('| constant | value | defined in | why |')
  out.push('|---|---|---|---|')
  for (const l of limits) {
    out.push(`| \`${l.name}\` | ${cell(formatValue(l.name, l.value))} | \`${l.file}\` | ${cell(l.doc || '(no doc comment)')} |`)
  }
  out.push('')
  return out.join('\n')
}

// ---- main ----

function parseArgs(argv: string[]): { reports: string[]; out: string } {
  const reports: string[] = []
  let out = DEFAULT_OUT
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--out') out = resolve(argv[++i] ?? '')
    else if (a === '--help' || a === '-h') {
      console.log('usage: tsx scripts/reliability-report.ts <vitest-report.json>... [--out docs/RELIABILITY.md]')
      process.exit(0)
    } else reports.push(resolve(a))
  }
  if (reports.length === 0) throw new Error('no vitest JSON report given (see --help)')
  return { reports, out }
}

async function main(): Promise<number> {
  const { reports, out } = parseArgs(process.argv.slice(2))
  const { cases, fuzz } = collect(reports.map(readReport))
  const limits = await collectLimits()
  const markdown = render(
    cases,
    fuzz,
    limits,
    reports.map((r) => basename(r)),
  )
  writeFileSync(out, markdown)
  const failed = cases.filter((c) => c.status === 'failed').length + fuzz.filter((f) => f.status === 'failed').length
  console.log(`${relative(ROOT, out)}: ${cases.length} cases (${failed} failed), ${fuzz.length} fuzz properties, ${limits.length} limits`)
  if (cases.length === 0) {
    console.error('no reliability case found in the report(s): was test/reliability run with --reporter=json?')
    return 1
  }
  return failed > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(2)
  },
)
