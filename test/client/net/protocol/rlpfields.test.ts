import { describe, expect, it } from 'vitest'

import { EthCodecError } from '../../../../src/client/net/protocol/errors'
import { EthCode, type EthMessages, decodeEthPayload } from '../../../../src/client/net/protocol/ethmessages'
import { asCount, uintBytes } from '../../../../src/client/net/protocol/rlpfields'
import { testCommon } from './fixtures'

const UINT64_MAX = 2n ** 64n - 1n

describe('asCount: a uint64 count, saturated at 2^53 - 1', () => {
  it.each([
    [0n, 0],
    [1024n, 1024],
    [BigInt(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
    [BigInt(Number.MAX_SAFE_INTEGER) + 1n, Number.MAX_SAFE_INTEGER],
    [UINT64_MAX, Number.MAX_SAFE_INTEGER],
  ])('%s reads as %s', (value, expected) => {
    expect(asCount(uintBytes(value), 'max')).toBe(expected)
  })

  it('refuses more than 8 bytes and non-canonical integers', () => {
    expect(() => asCount(uintBytes(UINT64_MAX + 1n), 'max')).toThrow(EthCodecError)
    expect(() => asCount(Uint8Array.of(0, 1), 'max')).toThrow(/non-canonical/)
  })
})

describe('GetBlockHeaders with the largest uint64 max and skip', () => {
  it('decodes (geth accepts them and clamps what it serves)', () => {
    const payload = [uintBytes(9n), [uintBytes(1n), uintBytes(UINT64_MAX), uintBytes(UINT64_MAX), new Uint8Array(0)]]
    const msg = decodeEthPayload(EthCode.GetBlockHeaders, payload, { version: 68, common: testCommon() })
    const q = msg.data as EthMessages['GetBlockHeaders']
    expect(q).toEqual({ reqId: 9n, block: 1n, max: Number.MAX_SAFE_INTEGER, skip: Number.MAX_SAFE_INTEGER, reverse: false })
  })

  it('still refuses a max of 9 bytes', () => {
    const payload = [uintBytes(9n), [uintBytes(1n), uintBytes(UINT64_MAX + 1n), new Uint8Array(0), new Uint8Array(0)]]
    expect(() => decodeEthPayload(EthCode.GetBlockHeaders, payload, { version: 68, common: testCommon() })).toThrow(/max: integer longer than 8 bytes/)
  })
})
