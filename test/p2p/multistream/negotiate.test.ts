import { getEventListeners, once } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MSS_TIMEOUT_MS,
  MAX_PROTOCOL_ID_LENGTH,
  mssHandle,
  mssLs,
  mssSelect,
} from '../../../src/p2p/multistream'
import { HEADER, line, readBytes, usePairs } from './helpers'

const pair = usePairs()

describe('multistream-select negotiation', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_MSS_TIMEOUT_MS).toBe(10_000)
    expect(MAX_PROTOCOL_ID_LENGTH).toBe(1024)
  })

  it('dialer sends header and first proposal in one write; listener answers in one write', async () => {
    const [a, b] = pair({ recordWrites: true })
    const selecting = mssSelect(a, ['/eth/68/1.0.0', '/eth/67/1.0.0'])
    expect(a.writes).toHaveLength(1)
    expect(a.writes[0]!.equals(Buffer.concat([HEADER, line('/eth/68/1.0.0')]))).toBe(true)
    const [sel, han] = await Promise.all([selecting, mssHandle(b, ['/eth/67/1.0.0', '/eth/68/1.0.0'])])
    expect(sel.protocol).toBe('/eth/68/1.0.0')
    expect(han.protocol).toBe('/eth/68/1.0.0')
    expect(sel.stream).toBe(a)
    expect(han.stream).toBe(b)
    expect(b.writes).toHaveLength(1)
    expect(b.writes[0]!.equals(Buffer.concat([HEADER, line('/eth/68/1.0.0')]))).toBe(true)
    expect(a.writes).toHaveLength(1)
  })

  it('falls through the list on na', async () => {
    const [a, b] = pair({ recordWrites: true })
    const [sel, han] = await Promise.all([
      mssSelect(a, ['/eth/68/1.0.0', '/eth/67/1.0.0', '/eth/66/1.0.0']),
      mssHandle(b, ['/eth/66/1.0.0']),
    ])
    expect(sel.protocol).toBe('/eth/66/1.0.0')
    expect(han.protocol).toBe('/eth/66/1.0.0')
    expect(a.writes.map((w) => w.toString('latin1'))).toEqual([
      Buffer.concat([HEADER, line('/eth/68/1.0.0')]).toString('latin1'),
      line('/eth/67/1.0.0').toString('latin1'),
      line('/eth/66/1.0.0').toString('latin1'),
    ])
    expect(b.writes.map((w) => w.toString('latin1'))).toEqual([
      Buffer.concat([HEADER, line('na')]).toString('latin1'),
      line('na').toString('latin1'),
      line('/eth/66/1.0.0').toString('latin1'),
    ])
  })

  it('accepts a single protocol given as a string', async () => {
    const [a, b] = pair()
    const [sel, han] = await Promise.all([mssSelect(a, '/mplex/6.7.0'), mssHandle(b, '/mplex/6.7.0')])
    expect([sel.protocol, han.protocol]).toEqual(['/mplex/6.7.0', '/mplex/6.7.0'])
  })

  it('answers ls with the protocol list, then still negotiates on the same stream', async () => {
    const [a, b] = pair({ recordWrites: true })
    const handling = mssHandle(b, ['/a/1', '/b/2'])
    const { protocols } = await mssLs(a)
    expect(protocols).toEqual(['/a/1', '/b/2'])
    // The ls answer on the wire: one message holding each id as a length-prefixed line, then a newline.
    const body = Buffer.concat([line('/a/1'), line('/b/2'), Buffer.from('\n')])
    expect(b.writes[0]!.equals(Buffer.concat([HEADER, Buffer.from([body.length]), body]))).toBe(true)
    const [sel, han] = await Promise.all([mssSelect(a, ['/b/2']), handling])
    expect([sel.protocol, han.protocol]).toEqual(['/b/2', '/b/2'])
  })

  it('ls: accepts the go-multistream form (no final newline)', async () => {
    const [a, b] = pair()
    const listing = mssLs(a)
    const body = Buffer.concat([line('/a/1'), line('/b/2')])
    b.write(Buffer.concat([HEADER, Buffer.from([body.length]), body]))
    expect((await listing).protocols).toEqual(['/a/1', '/b/2'])
  })

  it('answers ls with an empty list', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, []).catch((e: unknown) => e)
    expect((await mssLs(a)).protocols).toEqual([])
    a.destroy()
    expect(await handling).toMatchObject({ code: 'ERR_MSS_STREAM_CLOSED' })
  })

  it('keeps bytes the dialer pipelined after its proposal (listener side)', async () => {
    const [a, b] = pair()
    a.write(Buffer.concat([HEADER, line('/echo/1'), Buffer.from('early data')]))
    const { stream, protocol } = await mssHandle(b, ['/echo/1'])
    expect(protocol).toBe('/echo/1')
    expect((await readBytes(stream, 10)).toString()).toBe('early data')
  })

  it('keeps bytes that share a chunk with the listener answer (dialer side), in flowing mode too', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/echo/1'])
    await once(b, 'readable')
    expect((b.read() as Buffer).equals(Buffer.concat([HEADER, line('/echo/1')]))).toBe(true)
    b.write(Buffer.concat([HEADER, line('/echo/1'), Buffer.from('hello')]))
    b.end()
    const { stream } = await selecting
    const data: Buffer[] = []
    stream.on('data', (c: Buffer) => data.push(c))
    await once(stream, 'end')
    expect(Buffer.concat(data).toString()).toBe('hello')
  })

  it('delivers end right after negotiation when the dialer half-closes', async () => {
    const [a, b] = pair()
    a.end(Buffer.concat([HEADER, line('/x/1'), Buffer.from('last words')]))
    const { stream } = await mssHandle(b, ['/x/1'])
    const chunks: Buffer[] = []
    for await (const c of stream) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('last words')
  })

  it('negotiates when every byte arrives in its own chunk', async () => {
    const [a, b] = pair()
    const id = `/${'p'.repeat(1000)}`
    const wire = Buffer.concat([HEADER, line('/nope'), line(id), Buffer.from('!')])
    for (let i = 0; i < wire.length; i++) a.write(wire.subarray(i, i + 1))
    const { stream, protocol } = await mssHandle(b, [id])
    expect(protocol).toBe(id)
    expect((await readBytes(stream, 1)).toString()).toBe('!')
  })

  it('lets the application exchange data both ways after negotiation', async () => {
    const [a, b] = pair()
    const [sel, han] = await Promise.all([mssSelect(a, ['/echo/1']), mssHandle(b, ['/echo/1'])])
    han.stream.on('data', (c: Buffer) => han.stream.write(c))
    sel.stream.write('ping')
    expect((await readBytes(sel.stream, 4)).toString()).toBe('ping')
  })

  it('leaves no listeners behind', async () => {
    const [a, b] = pair()
    const before = ['readable', 'end', 'close', 'error'].map((e) => a.listenerCount(e) + b.listenerCount(e))
    const signal = new AbortController().signal
    await Promise.all([mssSelect(a, ['/x/1'], { signal }), mssHandle(b, ['/x/1'], { signal })])
    const after = ['readable', 'end', 'close', 'error'].map((e) => a.listenerCount(e) + b.listenerCount(e))
    expect(after).toEqual(before)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })

  it('negotiates and preserves trailing data under any chunking of the dialer bytes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^\/[a-z0-9/.]{1,30}$/), { minLength: 1, maxLength: 5 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (refused, trailing, cuts) => {
          const [a, b] = pair()
          const wanted = '/wanted/1.0.0'
          const proposals = [...refused.filter((p) => p !== wanted), wanted]
          const wire = Buffer.concat([HEADER, ...proposals.map(line), trailing])
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y)
          let prev = 0
          for (const p of [...points, wire.length]) {
            if (p > prev) a.write(wire.subarray(prev, p))
            prev = p
          }
          a.end()
          const { stream, protocol } = await mssHandle(b, [wanted])
          expect(protocol).toBe(wanted)
          const rest: Buffer[] = []
          for await (const c of stream) rest.push(c as Buffer)
          expect(Buffer.concat(rest).equals(Buffer.from(trailing))).toBe(true)
          a.destroy()
        },
      ),
      { numRuns: 100 },
    )
  })
})
