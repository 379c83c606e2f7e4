import { afterEach } from 'vitest'
import { encodeMessage } from '../../../src/p2p/codec'
import { duplexPair, type DuplexPairOptions, type MemoryDuplex } from '../../utils/duplex-pair'

/** One multistream message: uvarint(len) || text || '\n'. */
export function line(text: string): Buffer {
  return Buffer.from(encodeMessage(Buffer.from(`${text}\n`)))
}

export const HEADER = line('/multistream/1.0.0')

/** A pair that the current test's afterEach destroys. Call `usePairs()` once per file. */
export function usePairs(): (opts?: DuplexPairOptions) => [MemoryDuplex, MemoryDuplex] {
  const open: MemoryDuplex[] = []
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy()
  })
  return (opts = {}) => {
    const p = duplexPair(opts)
    open.push(...p)
    return p
  }
}

/** Reads until `n` bytes arrived (or EOF), without leaving a listener behind. */
export async function readBytes(stream: MemoryDuplex, n: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let got = 0
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer)
    got += (chunk as Buffer).length
    if (got >= n) break
  }
  return Buffer.concat(chunks)
}
