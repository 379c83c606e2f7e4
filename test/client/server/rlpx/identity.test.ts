import { bytesToUnprefixedHex, concatBytes } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { InvalidHelloIdError, UnexpectedHelloIdError, checkHelloId } from '../../../../src/client/net/server/rlpx/identity'
import { DisconnectReason } from '../../../../src/p2p'

const key = new Uint8Array(64).map((_, i) => i + 1)
const other = new Uint8Array(64).fill(9)

describe('checkHelloId (geth: readProtocolHandshake, then setupConn)', () => {
  it('accepts the authenticated key itself', () => {
    expect(checkHelloId(Uint8Array.from(key), key)).toBeUndefined()
  })

  it.each([
    ['missing', undefined, /carries no id/],
    ['a list', [key], /carries no id/],
    ['65 bytes', concatBytes(Uint8Array.of(4), key), /65 bytes/],
    ['128 bytes (the id twice)', concatBytes(key, key), /128 bytes/],
    ['empty', new Uint8Array(0), /0 bytes/],
    ['all zeros', new Uint8Array(64), /all zeros/],
  ])('refuses an id that is %s as INVALID_IDENTITY (0x07)', (_what, claimed, message) => {
    const err = checkHelloId(claimed, key)
    expect(err).toBeInstanceOf(InvalidHelloIdError)
    expect(err!.code).toBe('ERR_PEER_INVALID_IDENTITY')
    expect(err!.reason).toBe(DisconnectReason.INVALID_IDENTITY)
    expect(err!.message).toMatch(message)
    expect(err!.authenticatedId).toBe(bytesToUnprefixedHex(key))
  })

  it('refuses another 64-byte id as UNEXPECTED_IDENTITY (0x09), naming both', () => {
    const err = checkHelloId(other, key)
    expect(err).toBeInstanceOf(UnexpectedHelloIdError)
    expect(err!.code).toBe('ERR_PEER_UNEXPECTED_IDENTITY')
    expect(err!.reason).toBe(DisconnectReason.UNEXPECTED_IDENTITY)
    expect(err!.claimedId).toBe(bytesToUnprefixedHex(other))
    expect(err!.authenticatedId).toBe(bytesToUnprefixedHex(key))
  })

  it('fails closed when no key was authenticated', () => {
    expect(checkHelloId(key, null)).toBeInstanceOf(UnexpectedHelloIdError)
  })
})
