export interface BenchArgs {
  names: string[]
  quick: boolean
  rounds?: number
  list: boolean
  help: boolean
}

/** `[--quick] [--rounds N] [--list] [name...]`; no names means every bench, in registry order. */
export function parseArgs(argv: readonly string[], known: readonly string[]): BenchArgs {
  const out: BenchArgs = { names: [], quick: false, list: false, help: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--quick') out.quick = true
    else if (a === '--list') out.list = true
    else if (a === '--help' || a === '-h') out.help = true
    else if (a === '--rounds' || a.startsWith('--rounds=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      const n = Number(v)
      if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds needs a positive integer, got ${String(v)}`)
      out.rounds = n
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`)
    else if (!known.includes(a)) throw new Error(`unknown bench "${a}"; known: ${known.join(', ')}`)
    else if (!out.names.includes(a)) out.names.push(a)
  }
  if (out.names.length === 0) out.names = [...known]
  return out
}
