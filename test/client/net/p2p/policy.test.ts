import { describe, expect, it } from 'vitest'

import { BanList } from '../../../../src/client/net/banlist'
import { type P2PSession, SessionTable, compareIds, preferredDirection } from '../../../../src/client/net/server/p2p/sessiontable'
import { rlpxRefusal } from '../../../../src/client/net/server/p2p/refusal'
import { InvalidHelloIdError, UnexpectedHelloIdError } from '../../../../src/client/net/server/rlpx/identity'
import { NoSharedVersionError } from '../../../../src/client/net/protocol/errors'
import {
  DisconnectReason,
  InboundUpgradeError,
  MuxerNegotiationError,
  MssStreamClosedError,
  RlpxConnectionLostError,
  RlpxHandshakeFailedError,
  RlpxNoSharedCapabilityError,
  RlpxRemoteDisconnectError,
  checkHelloIdentity,
} from '../../../../src/p2p'

import type { Connection } from '../../../../src/p2p'
import type { P2PPeer } from '../../../../src/client/net/peer/p2ppeer'

const low = new Uint8Array(64).fill(1)
const high = new Uint8Array(64).fill(2)
const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex')

/** The two fields the table reads from a connection, and a peer carrying its id. */
function session(remote: Uint8Array, direction: 'inbound' | 'outbound'): P2PSession {
  const conn = { remoteId: remote, direction } as unknown as Connection
  const peer = { id: hex(remote) } as unknown as P2PPeer
  return { conn, peer, connected: false, errorReported: false }
}

describe('simultaneous-dial tie-break', () => {
  it('orders ids byte-wise', () => {
    expect(compareIds(low, high)).toBeLessThan(0)
    expect(compareIds(high, low)).toBeGreaterThan(0)
    expect(compareIds(low, low)).toBe(0)
    const a = new Uint8Array(64)
    const b = new Uint8Array(64)
    b[63] = 1
    expect(compareIds(a, b)).toBeLessThan(0)
  })

  it('keeps the connection dialed by the smaller id, as seen from both ends', () => {
    // low dialed high: outbound at low, inbound at high. Both must keep that one.
    expect(preferredDirection(low, high)).toBe('outbound')
    expect(preferredDirection(high, low)).toBe('inbound')
  })

  it('both nodes close the same one of two crossing connections', () => {
    // At `low`: its own dial (outbound) and high's dial (inbound).
    const atLow = new SessionTable()
    atLow.add(session(high, 'inbound'))
    const lowOwn = session(high, 'outbound').conn
    expect(atLow.admit(low, hex(high), lowOwn)).toMatchObject({ action: 'replace' })
    // At `high`: its own dial (outbound) first, then low's dial (inbound) arrives.
    const atHigh = new SessionTable()
    atHigh.add(session(low, 'outbound'))
    const lowDial = session(low, 'inbound').conn
    expect(atHigh.admit(high, hex(low), lowDial)).toMatchObject({ action: 'replace' })
    // The other arrival order at `high` refuses high's own dial instead: the same survivor.
    const atHigh2 = new SessionTable()
    atHigh2.add(session(low, 'inbound'))
    expect(atHigh2.admit(high, hex(low), session(low, 'outbound').conn)).toMatchObject({ action: 'refuse' })
  })

  it('lets a second inbound connection replace the first, refuses a second outbound one, admits a new remote', () => {
    const t = new SessionTable()
    const first = session(high, 'inbound')
    t.add(first)
    // The remote redialed: it has given up the first connection.
    expect(t.admit(low, hex(high), session(high, 'inbound').conn)).toMatchObject({ action: 'replace', existing: first })
    const t2 = new SessionTable()
    t2.add(session(high, 'outbound'))
    expect(t2.admit(low, hex(high), session(high, 'outbound').conn)).toMatchObject({ action: 'refuse' })
    expect(t.admit(low, hex(low), session(low, 'inbound').conn)).toEqual({ action: 'add' })
  })

  it('refuses an inbound duplicate at the gater only when the tie-break keeps the existing one', () => {
    const t = new SessionTable()
    t.add(session(high, 'outbound'))
    // We are `low`: our outbound wins, the inbound from `high` can go at once.
    expect(t.keepsOverInbound(low, hex(high), high)).toBe(true)
    const t2 = new SessionTable()
    t2.add(session(low, 'outbound'))
    // We are `high`: the inbound from `low` wins and must be let in.
    expect(t2.keepsOverInbound(high, hex(low), low)).toBe(false)
    expect(new SessionTable().keepsOverInbound(low, hex(high), high)).toBe(false)
    const t3 = new SessionTable()
    t3.add(session(high, 'inbound'))
    expect(t3.keepsOverInbound(low, hex(high), high)).toBe(false)
  })

  it('remove() only unregisters the session it is given', () => {
    const t = new SessionTable()
    const old = session(high, 'inbound')
    const replacement = session(high, 'outbound')
    t.add(old)
    t.add(replacement)
    expect(t.remove(old)).toBe(true)
    expect(t.get(hex(high))).toBe(replacement)
    expect(t.remove(old)).toBe(false)
    expect(t.remove(replacement)).toBe(true)
    expect(t.size).toBe(0)
  })
})

describe('RLPx refusals (p2p/refusal.ts)', () => {
  const remoteId = new Uint8Array(64).fill(7)
  const claimed = new Uint8Array(64).fill(9)
  const ours = [70, 69, 68]

  it('a Hello naming another id is the legacy path\'s UnexpectedHelloIdError, under the proved key, from a dial or the listener', () => {
    const failure = new RlpxHandshakeFailedError(checkHelloIdentity(claimed, remoteId)!, remoteId)
    for (const err of [failure, new InboundUpgradeError({ host: '127.0.0.1', port: 1 }, failure)]) {
      const refusal = rlpxRefusal(err, ours)!
      expect(refusal.remoteId).toBe(hex(remoteId))
      expect(refusal.error).toBeInstanceOf(UnexpectedHelloIdError)
      expect((refusal.error as UnexpectedHelloIdError).reason).toBe(DisconnectReason.UNEXPECTED_IDENTITY)
      expect((refusal.error as UnexpectedHelloIdError).claimedId).toBe(hex(claimed))
      expect((refusal.error as UnexpectedHelloIdError).authenticatedId).toBe(hex(remoteId))
    }
    const invalid = rlpxRefusal(new RlpxHandshakeFailedError(checkHelloIdentity(new Uint8Array(65), remoteId)!, remoteId), ours)!
    expect(invalid.error).toBeInstanceOf(InvalidHelloIdError)
    expect((invalid.error as InvalidHelloIdError).authenticatedId).toBe(hex(remoteId))
  })

  it('a Hello sharing no eth version is a NoSharedVersionError naming both sides', () => {
    const cause = new RlpxNoSharedCapabilityError('none', [{ name: 'eth', version: 63 }, { name: 'les', version: 4 }])
    const refusal = rlpxRefusal(new RlpxHandshakeFailedError(cause, remoteId), ours)!
    expect(refusal.error).toBeInstanceOf(NoSharedVersionError)
    expect((refusal.error as NoSharedVersionError).theirs).toEqual([63])
    expect((refusal.error as NoSharedVersionError).ours).toEqual(ours)
  })

  it('anything else is not a refusal', () => {
    expect(rlpxRefusal(new RlpxHandshakeFailedError(new RlpxRemoteDisconnectError(DisconnectReason.TOO_MANY_PEERS), remoteId), ours)).toBeUndefined()
    expect(rlpxRefusal(new RlpxHandshakeFailedError(new RlpxConnectionLostError('gone'), remoteId), ours)).toBeUndefined()
    expect(rlpxRefusal(new MuxerNegotiationError(new MssStreamClosedError('closed')), ours)).toBeUndefined()
    expect(rlpxRefusal(new Error('ECONNREFUSED'), ours)).toBeUndefined()
    expect(rlpxRefusal(undefined, ours)).toBeUndefined()
  })
})

describe('BanList', () => {
  it('bans until the deadline', () => {
    const bans = new BanList()
    bans.ban('a', 60_000)
    bans.ban('b', 0)
    expect(bans.isBanned('a')).toBe(true)
    expect(bans.isBanned('b')).toBe(false)
    expect(bans.isBanned('c')).toBe(false)
  })
})
