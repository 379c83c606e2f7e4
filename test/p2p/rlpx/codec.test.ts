import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import * as fc from 'fast-check'
import * as native from 'snappy'
import * as snappyjs from 'snappyjs'
import { describe, expect, it } from 'vitest'
import {
  DisconnectReason,
  KNOWN_CAPABILITY_LENGTHS,
  RlpxInvalidIdentityError,
  RlpxMalformedMessageError,
  RlpxMessageTooLargeError,
  RlpxSnappyError,
  capabilitiesForProtocols,
  capabilityForId,
  capabilityProtocolId,
  decodeDisconnectReason,
  decodeHello,
  encodeDisconnect,
  encodeHello,
  encodeMessageId,
  matchCapabilities,
  parseCapabilityProtocolId,
  snappyCompress,
  snappyDecodedLength,
  snappyUncompress,
  splitMessageId,
} from '../../../src/p2p/rlpx'
import { ETH68, ETH69, SNAP1, nodeKey } from './helpers'

describe('message ids', () => {
  it('encodes ids as RLP integers and splits them back off a frame', () => {
    for (const id of [0, 1, 0x10, 0x7f, 0x80, 0xff, 0x100, 0x12345]) {
      const frame = Buffer.concat([encodeMessageId(id), Buffer.from([0xc0])])
      expect(Buffer.from(encodeMessageId(id)).equals(Buffer.from(RLP.encode(id)))).toBe(true)
      const { id: back, data } = splitMessageId(frame)
      expect(back).toBe(id)
      expect(Array.from(data)).toEqual([0xc0])
    }
  })

  it('refuses non-canonical and oversized ids', () => {
    for (const frame of [[], [0x00, 0xc0], [0x81, 0x05], [0x82, 0x00, 0x90], [0x85, 1, 2, 3, 4, 5], [0x82, 0x01]]) {
      expect(() => splitMessageId(Uint8Array.from(frame)), JSON.stringify(frame)).toThrow(RlpxMalformedMessageError)
    }
  })
})

describe('Disconnect reasons', () => {
  const reasons = Object.values(DisconnectReason).filter((v): v is DisconnectReason => typeof v === 'number')

  it('reads geth ([reason], compressed), devp2p (bare reason, plain) and plain lists', () => {
    for (const reason of reasons) {
      expect(decodeDisconnectReason(snappyCompress(encodeDisconnect(reason)))).toBe(reason)
      expect(decodeDisconnectReason(RLP.encode(reason))).toBe(reason)
      expect(decodeDisconnectReason(encodeDisconnect(reason))).toBe(reason)
      expect(decodeDisconnectReason(snappyCompress(RLP.encode(reason)))).toBe(reason)
    }
  })

  it('an empty or unreadable payload is DISCONNECT_REQUESTED; unknown codes are kept', () => {
    expect(decodeDisconnectReason(new Uint8Array(0))).toBe(DisconnectReason.DISCONNECT_REQUESTED)
    expect(decodeDisconnectReason(RLP.encode([]))).toBe(DisconnectReason.DISCONNECT_REQUESTED)
    expect(decodeDisconnectReason(Uint8Array.of(0xff, 0xff))).toBe(DisconnectReason.DISCONNECT_REQUESTED)
    expect(decodeDisconnectReason(encodeDisconnect(0x33 as DisconnectReason))).toBe(0x33)
  })
})

describe('snappy', () => {
  it('round-trips any bytes, and agrees with the native implementation both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(40), (data, repeat) => {
        const input = Buffer.concat([Buffer.from(data), Buffer.alloc(repeat * 37, data[0] ?? 7)])
        const ours = snappyCompress(input)
        expect(snappyDecodedLength(ours)).toBe(input.length)
        expect(Buffer.from(snappyUncompress(ours, input.length)).equals(input)).toBe(true)
        expect(Buffer.from(native.uncompressSync(ours, { asBuffer: true }) as Buffer).equals(input)).toBe(true)
        expect(Buffer.from(snappyUncompress(native.compressSync(input), input.length)).equals(input)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('round-trips multi-block inputs (64 KiB blocks) of mixed compressibility, readable by snappyjs and the native codec', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(400)), { minLength: 1, maxLength: 40 }), fc.nat(3), (parts, copies) => {
        // Runs of random bytes, each repeated: matches within and across the block boundaries.
        const unit = Buffer.concat(parts.map(([bytes, repeat]) => Buffer.concat(Array.from({ length: 1 + (repeat % 5) }, () => Buffer.from(bytes)))))
        const input = Buffer.concat(Array.from({ length: 1 + copies }, () => unit).concat([randomBytes(70_000)]))
        const packed = snappyCompress(input)
        expect(Buffer.from(snappyUncompress(packed, input.length)).equals(input)).toBe(true)
        expect(Buffer.from(snappyjs.uncompress(packed)).equals(input)).toBe(true)
        expect(Buffer.from(native.uncompressSync(packed, { asBuffer: true }) as Buffer).equals(input)).toBe(true)
      }),
      { numRuns: 40 },
    )
    // Long runs compress to copies (long copies split), random data to one literal per block.
    const zeros = new Uint8Array(300_000)
    expect(snappyCompress(zeros).length).toBeLessThan(20_000)
    const noise = randomBytes(200_000)
    expect(snappyCompress(noise).length).toBeLessThan(noise.length + 32)
  })

  it('checks the announced length against the limit before decompressing', () => {
    const packed = snappyCompress(randomBytes(1000))
    expect(() => snappyUncompress(packed, 999)).toThrow(RlpxMessageTooLargeError)
    // only a header, no data: the limit is what fails, not the missing data
    expect(() => snappyUncompress(Uint8Array.of(0x80, 0x80, 0x80, 0x08), 1 << 20)).toThrow(RlpxMessageTooLargeError)
  })

  it('refuses streams that do not decode to exactly their announced length', () => {
    const bad: number[][] = [
      [], // no header
      [0x80], // unterminated header
      [0xff, 0xff, 0xff, 0xff, 0x7f], // header past 32 bits
      [5, 0x0c, 1, 2, 3, 4], // 4 bytes for 5
      [3, 0x0c, 1, 2, 3, 4], // 4 bytes for 3
      [4, 0x0c, 1, 2], // literal past the input
      [8, 0x0c, 1, 2, 3, 4, 0x01, 5], // copy offset 5 with 4 produced
      [8, 0x0c, 1, 2, 3, 4, 0x01, 0], // copy offset 0
      [8, 0x0c, 1, 2, 3, 4, 0x02, 1], // 2-byte-offset copy cut short
      [8, 0x0c, 1, 2, 3, 4, 0x03, 1, 0, 0], // 4-byte-offset copy cut short
      [8, 0x0c, 1, 2, 3, 4, 0x03, 0xff, 0xff, 0xff, 0xff], // offset 2^32 - 1
      [70, 0xf0, 1], // 1-byte literal length cut short
    ]
    for (const stream of bad) expect(() => snappyUncompress(Uint8Array.from(stream), 1 << 20), JSON.stringify(stream)).toThrow(RlpxSnappyError)
    // and a valid hand-made one: literal "abcd", then a copy of 4 from offset 4
    expect(Buffer.from(snappyUncompress(Uint8Array.of(8, 0x0c, 97, 98, 99, 100, 0x01, 4), 8)).toString()).toBe('abcdabcd')
  })
})

describe('Hello', () => {
  it('round-trips, ignoring extra elements', () => {
    const id = nodeKey().id
    const hello = { protocolVersion: 5, clientId: 'ethp2p/test', capabilities: [{ name: 'eth', version: 68 }, { name: 'snap', version: 1 }], listenPort: 30303, nodeId: id }
    expect(decodeHello(encodeHello(hello))).toEqual({ ...hello, nodeId: expect.any(Uint8Array) })
    const extended = RLP.encode([5, 'x', [['eth', 68, 'extra']], 30303, id, 'more', [1]])
    expect(decodeHello(extended).capabilities).toEqual([{ name: 'eth', version: 68 }])
  })

  it('tolerates leading zeros in integers and an unreadable listen port (devp2p sends 0x00)', () => {
    const id = nodeKey().id
    const hello = decodeHello(RLP.encode([Uint8Array.of(0, 5), 'x', [['eth', Uint8Array.of(0, 68)]], [], id]))
    expect([hello.protocolVersion, hello.capabilities[0]!.version, hello.listenPort]).toEqual([5, 68, 0])
  })

  it('refuses malformed Hellos and bad node ids', () => {
    const id = nodeKey().id
    for (const data of [Uint8Array.of(0xc0), RLP.encode([5, 'x', [], 0]), RLP.encode([[5], 'x', [], 0, id]), RLP.encode([5, 'x', [['eth']], 0, id]), Uint8Array.of(0xf8)]) {
      expect(() => decodeHello(data)).toThrow(RlpxMalformedMessageError)
    }
    expect(() => decodeHello(RLP.encode([5, 'x', [], 0, id.subarray(1)]))).toThrow(RlpxInvalidIdentityError)
    expect(() => decodeHello(RLP.encode([5, 'x', [], 0, new Uint8Array(64)]))).toThrow(RlpxInvalidIdentityError)
  })
})

describe('capabilities', () => {
  it('keeps the highest shared version per name, lays names out in byte order from 0x10', () => {
    const ours = [ETH68, ETH69, SNAP1, { name: 'Zed', version: 1, length: 3 }, { name: 'bzz', version: 2, length: 5 }]
    const theirs = [{ name: 'snap', version: 1 }, { name: 'eth', version: 68 }, { name: 'eth', version: 69 }, { name: 'bzz', version: 2 }, { name: 'Zed', version: 1 }, { name: 'eth', version: 70 }]
    const shared = matchCapabilities(ours, theirs)
    expect(shared.map((c) => [c.name, c.version, c.offset])).toEqual([
      ['Zed', 1, 0x10],
      ['bzz', 2, 0x13],
      ['eth', 69, 0x18],
      ['snap', 1, 0x18 + 18],
    ])
    expect(shared[2]!.protocol).toBe('/eth/69/1.0.0')
    expect(capabilityForId(shared, 0x18 + 17)?.name).toBe('eth')
    expect(capabilityForId(shared, 0x18 + 18)?.name).toBe('snap')
    expect(capabilityForId(shared, 0x18 + 26)).toBeUndefined()
    expect(matchCapabilities([ETH68], [{ name: 'ETH', version: 68 }, { name: 'eth', version: 67 }])).toEqual([])
  })

  it('maps stream ids to capabilities and back', () => {
    expect(capabilityProtocolId({ name: 'eth', version: 69 })).toBe('/eth/69/1.0.0')
    expect(parseCapabilityProtocolId('/eth/69/1.0.0')).toEqual({ name: 'eth', version: 69 })
    for (const id of ['/mplex/6.7.0', '/eth/69', '/eth/x/1.0.0', '/toolongname/1/1.0.0']) expect(parseCapabilityProtocolId(id)).toBeUndefined()
    expect(capabilitiesForProtocols(['/eth/70/1.0.0', '/eth/69/1.0.0', '/eth/68/1.0.0', '/echo/1.0.0', '/eth/65/1.0.0', '/snap/1/1.0.0'])).toEqual([
      { name: 'eth', version: 70, length: KNOWN_CAPABILITY_LENGTHS.eth![70] },
      { name: 'eth', version: 69, length: 18 },
      { name: 'eth', version: 68, length: 17 },
      { name: 'snap', version: 1, length: 8 },
    ])
  })
})
