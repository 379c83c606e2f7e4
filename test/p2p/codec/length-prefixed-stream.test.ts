import { getEventListeners, once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import {
  COALESCE_LIMIT,
  encodeMessage,
  LengthPrefixedDecoder,
  MessageTooLargeError,
  readMessages,
  StreamClosedError,
  TruncatedMessageError,
  writeMessage,
} from '../../../src/p2p/codec'
import { duplexPair, type MemoryDuplex } from '../../utils/duplex-pair'

const open: MemoryDuplex[] = []
function pair(opts: Parameters<typeof duplexPair>[0] = {}): [MemoryDuplex, MemoryDuplex] {
  const p = duplexPair(opts)
  open.push(...p)
  return p
}

afterEach(() => {
  for (const s of open.splice(0)) s.destroy()
})

async function collect(it: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = []
  for await (const m of it) out.push(Buffer.from(m).toString())
  return out
}

describe('writeMessage', () => {
  it('writes a small message as one chunk', () => {
    const [a] = pair({ recordWrites: true })
    expect(writeMessage(a, Buffer.from('hello'))).toBe(true)
    expect(a.writes).toHaveLength(1)
    expect(a.writes[0]!.toString('hex')).toBe('0568656c6c6f')
  })

  it('coalesces [code, rlp] parts with the prefix when small', () => {
    const [a] = pair({ recordWrites: true })
    writeMessage(a, [Uint8Array.of(0x03), Buffer.from('rlp')])
    expect(a.writes.map((w) => w.toString('hex'))).toEqual(['0403726c70'])
  })

  it('writes a large part without copying it, prefix and small parts coalesced', () => {
    const [a, b] = pair({ recordWrites: true, highWaterMark: 4 << 20 })
    const big = new Uint8Array(1024 * 1024).fill(7)
    writeMessage(a, [Uint8Array.of(0x10), big])
    expect(a.writes).toHaveLength(2)
    expect(a.writes[0]!.toString('hex')).toBe('818040' + '10')
    expect(a.writes[1]!.buffer).toBe(big.buffer)
    const decoded = new LengthPrefixedDecoder().push(b.read() as Buffer)
    expect(decoded).toHaveLength(1)
    expect(decoded[0]!.length).toBe(big.length + 1)
  })

  it('refuses a message over maxLength without writing', () => {
    const [a] = pair({ recordWrites: true })
    expect(() => writeMessage(a, new Uint8Array(COALESCE_LIMIT + 1), { maxLength: COALESCE_LIMIT })).toThrow(
      MessageTooLargeError,
    )
    expect(() => writeMessage(a, new Uint8Array(11), { maxLength: 10 })).toThrow(MessageTooLargeError)
    expect(a.writes).toHaveLength(0)
  })

  it('returns false once the stream is over its high-water mark', async () => {
    const [a, b] = pair({ highWaterMark: 1024 })
    let ok = true
    let sent = 0
    while (ok) {
      ok = writeMessage(a, new Uint8Array(512))
      sent++
    }
    expect(sent).toBeGreaterThan(1)
    const got = collect(readMessages(b))
    await once(a, 'drain')
    a.end()
    expect(await got).toHaveLength(sent)
  })
})

describe('readMessages', () => {
  it('reads messages split across writes and ends cleanly at EOF', async () => {
    const [a, b] = pair()
    const encoded = Buffer.concat(['one', 'two', '', 'three'].map((s) => encodeMessage(Buffer.from(s))))
    for (let i = 0; i < encoded.length; i += 3) a.write(encoded.subarray(i, i + 3))
    a.end()
    const signal = new AbortController().signal
    expect(await collect(readMessages(b, { signal }))).toEqual(['one', 'two', '', 'three'])
    for (const e of ['readable', 'end', 'close', 'error']) expect(b.listenerCount(e)).toBe(0)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })

  it('throws TruncatedMessageError at EOF inside a message', async () => {
    const [a, b] = pair()
    a.end(encodeMessage(Buffer.from('abcdef')).subarray(0, 4))
    await expect(collect(readMessages(b))).rejects.toBeInstanceOf(TruncatedMessageError)
  })

  it('throws MessageTooLargeError from the prefix alone and destroys the stream', async () => {
    const [a, b] = pair()
    a.write(Uint8Array.of(0x80, 0x80, 0x80, 0x01)) // 2 MiB announced, nothing else sent
    const err = await collect(readMessages(b, { maxLength: 1024 })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MessageTooLargeError)
    expect(b.destroyed).toBe(true)
  })

  it('throws StreamClosedError when the stream is destroyed mid-read', async () => {
    const [a, b] = pair()
    const reading = collect(readMessages(b))
    a.write(encodeMessage(Buffer.from('x')))
    await once(b, 'readable')
    a.destroy()
    await expect(reading).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('rethrows the stream error', async () => {
    const [, b] = pair()
    const reading = collect(readMessages(b))
    b.destroy(new Error('boom'))
    await expect(reading).rejects.toThrow('boom')
  })

  it('puts unconsumed bytes back when the consumer stops early', async () => {
    const [a, b] = pair()
    a.write(Buffer.concat([encodeMessage(Buffer.from('first')), encodeMessage(Buffer.from('second')), Buffer.from('raw')]))
    for await (const m of readMessages(b)) {
      expect(Buffer.from(m).toString()).toBe('first')
      break
    }
    a.end()
    const rest: Buffer[] = []
    for await (const chunk of b) rest.push(chunk as Buffer)
    expect(Buffer.concat(rest).equals(Buffer.concat([encodeMessage(Buffer.from('second')), Buffer.from('raw')]))).toBe(
      true,
    )
  })

  it('stops with the abort reason and leaves the stream usable', async () => {
    const [a, b] = pair()
    const controller = new AbortController()
    const reading = collect(readMessages(b, { signal: controller.signal }))
    a.write(encodeMessage(Buffer.from('abc')).subarray(0, 2))
    await once(b, 'readable')
    controller.abort(new Error('stop'))
    await expect(reading).rejects.toThrow('stop')
    expect(b.destroyed).toBe(false)
    a.end(encodeMessage(Buffer.from('abc')).subarray(2))
    expect(await collect(readMessages(b))).toEqual(['abc'])
  })
})
