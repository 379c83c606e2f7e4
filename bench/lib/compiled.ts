import { mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { isBun } from './env'

const BUILD_DIR = fileURLToPath(new URL('../.build/', import.meta.url))

/**
 * The script a memory-measuring child should run. Under Node, tsx's loader
 * transpiles with esbuild's keepNames, which wraps every function it creates
 * in `__name(fn, "...")`; redefining `name` moves the function's properties
 * into a dictionary (about 256 B per closure), so a class-field handler costs
 * several times what it does in deployed JavaScript. Packages from
 * node_modules are shipped compiled and never pay it, so the legacy path
 * (devp2p) would be measured without the tax and ours with it. The child
 * therefore runs an esbuild bundle of the script (keepNames off, packages left
 * external), as a deployment would. Bun transpiles without the wrapper and
 * runs the TypeScript as it is.
 */
export async function compiledScript(tsPath: string): Promise<string> {
  if (isBun()) return tsPath
  const { build } = await import('esbuild')
  mkdirSync(BUILD_DIR, { recursive: true })
  const outfile = join(BUILD_DIR, basename(tsPath).replace(/\.ts$/, '.mjs'))
  await build({
    entryPoints: [tsPath],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: false,
    logLevel: 'warning',
  })
  return outfile
}
