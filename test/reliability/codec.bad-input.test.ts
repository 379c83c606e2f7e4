import { expect } from 'vitest'
import { MessageTooLargeError, StreamClosedError, TruncatedMessageError } from '../../src/p2p/codec/errors'
import { DEFAULT_MAX_MESSAGE_LENGTH, LengthPrefixedDecoder, readMessages } from '../../src/p2p/codec/length-prefixed'
import { decodeUvarint, decodeUvarintBig, encodeUvarint, MAX_UVARINT_BYTES, VarintError } from '../../src/p2p/codec/uvarint'
import { duplexPair } from '../utils/duplex-pair'
import { badInputTable, expectRejectsTyped, expectThrowsTyped } from './table'

/** Reads every message of `bytes` written to a fresh pair, with the given limit; returns the messages and the stream. */
async function readAllFrom(bytes: Uint8Array, opts: { maxLength?: number; end?: boolean; destroy?: boolean } = {}) {
  const [a, b] = duplexPair()
  const got: Uint8Array[] = []
  a.write(bytes)
  if (opts.end !== false) a.end()
  if (opts.destroy === true) setImmediate(() => a.destroy())
  const reading = (async () => {
    for await (const m of readMessages(b, { maxLength: opts.maxLength })) got.push(m)
  })()
  return { reading, got, stream: b, close: () => (a.destroy(), b.destroy()) }
}

badInputTable('codec', 'uvarint', [
  {
    case: 'varint with 10 continuation bytes',
    expected: `VarintError (ERR_VARINT_INVALID): longer than ${MAX_UVARINT_BYTES} bytes`,
    run: () => {
      const bad = new Uint8Array(10).fill(0xff)
      expectThrowsTyped(() => decodeUvarint(bad), VarintError, 'ERR_VARINT_INVALID')
      expectThrowsTyped(() => decodeUvarintBig(bad), VarintError, 'ERR_VARINT_INVALID')
    },
  },
  {
    case: 'varint above 2^53 - 1 read as a number',
    expected: 'VarintError (ERR_VARINT_INVALID), never a rounded value',
    run: () => {
      const big = encodeUvarint(2n ** 53n)
      expectThrowsTyped(() => decodeUvarint(big), VarintError, 'ERR_VARINT_INVALID')
      expect(decodeUvarintBig(big).value).toBe(2n ** 53n)
    },
  },
])

badInputTable('codec', 'length-prefixed messages', [
  {
    case: 'length prefix over the limit',
    expected: 'MessageTooLargeError (ERR_MESSAGE_TOO_LARGE) at the prefix, before any payload is buffered',
    run: () => {
      const decoder = new LengthPrefixedDecoder({ maxLength: 1000 })
      const err = expectThrowsTyped(() => decoder.push(encodeUvarint(1001)), MessageTooLargeError, 'ERR_MESSAGE_TOO_LARGE')
      expect(err.length).toBe(1001)
      expect(decoder.bufferedBytes).toBe(2) // the prefix only
      expectThrowsTyped(() => decoder.push(new Uint8Array(10)), MessageTooLargeError, 'ERR_MESSAGE_TOO_LARGE') // stays failed
    },
  },
  {
    case: `message announcing 1 byte over the default ${DEFAULT_MAX_MESSAGE_LENGTH}-byte limit on a stream`,
    expected: 'readMessages throws MessageTooLargeError (ERR_MESSAGE_TOO_LARGE) and destroys the stream with it',
    run: async () => {
      const r = await readAllFrom(encodeUvarint(DEFAULT_MAX_MESSAGE_LENGTH + 1), { end: false })
      await expectRejectsTyped(r.reading, MessageTooLargeError, 'ERR_MESSAGE_TOO_LARGE')
      expect(r.stream.destroyed).toBe(true)
      r.close()
    },
  },
  {
    case: 'over-long varint as a length prefix on a stream',
    expected: 'readMessages throws VarintError (ERR_VARINT_INVALID) and destroys the stream',
    run: async () => {
      const r = await readAllFrom(new Uint8Array(12).fill(0x80), { end: false })
      await expectRejectsTyped(r.reading, VarintError, 'ERR_VARINT_INVALID')
      expect(r.stream.destroyed).toBe(true)
      r.close()
    },
  },
  {
    case: 'stream ends in the middle of a message',
    expected: 'TruncatedMessageError (ERR_MESSAGE_TRUNCATED) after the whole messages before it',
    run: async () => {
      const bytes = Uint8Array.from([2, 0xaa, 0xbb, 5, 1, 2])
      const r = await readAllFrom(bytes)
      await expectRejectsTyped(r.reading, TruncatedMessageError, 'ERR_MESSAGE_TRUNCATED')
      expect(r.got.map((m) => Buffer.from(m).toString('hex'))).toEqual(['aabb'])
      r.close()
    },
  },
  {
    case: 'stream destroyed (no FIN) in the middle of a message',
    expected: 'StreamClosedError (ERR_STREAM_CLOSED)',
    run: async () => {
      const r = await readAllFrom(Uint8Array.from([9, 1, 2, 3]), { end: false, destroy: true })
      await expectRejectsTyped(r.reading, StreamClosedError, 'ERR_STREAM_CLOSED')
      r.close()
    },
  },
])
