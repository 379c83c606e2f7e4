import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MessageTooLargeError } from '../../src/p2p/codec/errors'
import { encodeMessage, LengthPrefixedDecoder, readMessages } from '../../src/p2p/codec/length-prefixed'
import { encodeUvarint } from '../../src/p2p/codec/uvarint'
import { P2PError } from '../../src/p2p/errors'
import { duplexPair } from '../utils/duplex-pair'
import { chunksOf, concat, cutsArb, fuzzParams, fuzzTimeout } from './fuzz'

/** The decoder throws nothing but these two. */
const FRAMING = { type: P2PError, codes: ['ERR_MESSAGE_TOO_LARGE', 'ERR_VARINT_INVALID'] } as const

const messagesArb = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 })

/**
 * Feeds chunks through a decoder with append/next (one message at a time, so
 * the messages before a framing error are kept, as readMessages does); returns
 * the messages and the error it failed with, if any.
 */
function decodeAll(chunks: readonly Uint8Array[], maxLength: number): { messages: Uint8Array[]; error?: unknown } {
  const decoder = new LengthPrefixedDecoder({ maxLength })
  const messages: Uint8Array[] = []
  try {
    for (const c of chunks) {
      decoder.append(c)
      for (let m = decoder.next(); m !== undefined; m = decoder.next()) messages.push(m)
    }
  } catch (error) {
    return { messages, error }
  }
  return { messages }
}

function expectFramingError(err: unknown): void {
  expect(err).toBeInstanceOf(P2PError)
  expect(FRAMING.codes).toContain((err as P2PError).code)
}

describe('fuzz: length-prefixed framing', () => {
  it('decodes any chunking of encoded messages to exactly those messages (encode then decode is the identity)', () => {
    fc.assert(
      fc.property(messagesArb, cutsArb, (messages, cuts) => {
        const wire = concat(messages.map((m) => encodeMessage(m)))
        const { messages: out, error } = decodeAll(chunksOf(wire, cuts), 1024)
        expect(error).toBeUndefined()
        expect(out.map((m) => Buffer.from(m).toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')))
      }),
      fuzzParams(),
    )
  })

  it('on arbitrary bytes yields only whole messages within the limit, or a typed framing error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), cutsArb, fc.nat({ max: 200 }), (bytes, cuts, maxLength) => {
        const { messages, error } = decodeAll(chunksOf(bytes, cuts), maxLength)
        if (error !== undefined) expectFramingError(error)
        let consumed = 0
        for (const m of messages) {
          expect(m.length).toBeLessThanOrEqual(maxLength)
          consumed += m.length
        }
        expect(consumed).toBeLessThanOrEqual(bytes.length)
        // Same bytes in one chunk: same messages, same outcome (chunking never changes the result).
        const whole = decodeAll([bytes], maxLength)
        expect(whole.messages.length).toBe(messages.length)
        expect(whole.error === undefined).toBe(error === undefined)
        // push() returns the same messages, or throws the same typed error.
        const pushed = new LengthPrefixedDecoder({ maxLength })
        try {
          expect(pushed.push(bytes).length).toBe(messages.length)
        } catch (err) {
          expectFramingError(err)
          expect(error).toBeDefined()
        }
      }),
      fuzzParams(),
    )
  })

  it('refuses an announced length over the limit as soon as the prefix is read, before the payload', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.integer({ min: 1, max: 1 << 30 }), (maxLength, over) => {
        const decoder = new LengthPrefixedDecoder({ maxLength })
        const header = encodeUvarint(maxLength + over)
        let thrown: unknown
        try {
          decoder.push(header)
        } catch (err) {
          thrown = err
        }
        expect(thrown).toBeInstanceOf(MessageTooLargeError)
        expect((thrown as MessageTooLargeError).code).toBe('ERR_MESSAGE_TOO_LARGE')
        // The decoder stays failed.
        expect(() => decoder.push(Uint8Array.of(0))).toThrow(MessageTooLargeError)
      }),
      fuzzParams(),
    )
  })

  it(
    'readMessages over a stream: the messages written, or the stream fails with a typed error, never a hang',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), cutsArb, fc.nat({ max: 100 }), async (bytes, cuts, maxLength) => {
          const [a, b] = duplexPair()
          const expected = decodeAll([bytes], maxLength)
          for (const c of chunksOf(bytes, cuts)) a.write(c)
          a.end()
          const got: Uint8Array[] = []
          let error: unknown
          try {
            for await (const m of readMessages(b, { maxLength })) got.push(m)
          } catch (err) {
            error = err
          }
          a.destroy()
          b.destroy()
          expect(got.length).toBe(expected.messages.length)
          if (expected.error !== undefined) expectFramingError(error)
          else if (error !== undefined) expect((error as P2PError).code).toBe('ERR_MESSAGE_TRUNCATED')
        }),
        fuzzParams(),
      )
    },
    fuzzTimeout(2),
  )
})
