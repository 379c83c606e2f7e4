import { expect } from 'vitest'
import { encodeUvarint } from '../../src/p2p/codec/uvarint'
import {
  DEFAULT_MAX_LS_COUNT,
  DEFAULT_MAX_LS_RESPONSE_LENGTH,
  DEFAULT_MAX_NA_COUNT,
  MAX_PROTOCOL_ID_LENGTH,
  MULTISTREAM_PROTOCOL_ID,
} from '../../src/p2p/multistream/constants'
import {
  MssInvalidHeaderError,
  MssInvalidProtocolIdError,
  MssInvalidResponseError,
  MssMissingNewlineError,
  MssProtocolIdTooLongError,
  MssStreamClosedError,
  MssTimeoutError,
  MssTooManyAttemptsError,
  MssTooManyLsError,
  MssUnsupportedProtocolError,
} from '../../src/p2p/multistream/errors'
import { mssHandle, mssLs, mssSelect } from '../../src/p2p/multistream/index'
import { duplexPair, type MemoryDuplex } from '../utils/duplex-pair'
import { badInputTable, expectRejectsTyped, expectTypedError } from './table'

const OFFERED = ['/eth/68/1.0.0', '/eth/67/1.0.0']

function frame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
  return Buffer.concat([encodeUvarint(body.length), body])
}

const line = (text: string): Buffer => frame(`${text}\n`)
const HEADER = line(MULTISTREAM_PROTOCOL_ID)

/** A pair where `remote` plays the hostile peer: what the code under test writes is counted and discarded. */
function hostilePair(): { remote: MemoryDuplex; local: MemoryDuplex; answered: () => number; close: () => void } {
  const [remote, local] = duplexPair()
  let answered = 0
  remote.on('data', (chunk: Buffer) => {
    answered += chunk.length
  })
  return { remote, local, answered: () => answered, close: () => (remote.destroy(), local.destroy()) }
}

badInputTable('multistream', 'listener (mssHandle) facing a hostile dialer', [
  {
    case: `protocol id of ${MAX_PROTOCOL_ID_LENGTH + 1} bytes`,
    expected: 'MssProtocolIdTooLongError (ERR_MSS_PROTOCOL_ID_TOO_LONG), stream destroyed',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, line(`/${'x'.repeat(MAX_PROTOCOL_ID_LENGTH)}`)]))
      await expectRejectsTyped(handling, MssProtocolIdTooLongError, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
      expect(p.local.destroyed).toBe(true)
      p.close()
    },
  },
  {
    case: 'length prefix announcing 1 GiB',
    expected: 'ERR_MSS_PROTOCOL_ID_TOO_LONG at the prefix, nothing buffered',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, encodeUvarint(2 ** 30)]))
      await expectRejectsTyped(handling, MssProtocolIdTooLongError, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
      p.close()
    },
  },
  {
    case: 'message without its newline',
    expected: 'MssMissingNewlineError (ERR_MSS_MISSING_NEWLINE), stream destroyed',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, frame(OFFERED[0]!)]))
      await expectRejectsTyped(handling, MssMissingNewlineError, 'ERR_MSS_MISSING_NEWLINE')
      expect(p.local.destroyed).toBe(true)
      p.close()
    },
  },
  {
    case: 'wrong header (/multistream/2.0.0)',
    expected: 'MssInvalidHeaderError (ERR_MSS_INVALID_HEADER), no answer sent',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Buffer.concat([line('/multistream/2.0.0'), line(OFFERED[0]!)]))
      await expectRejectsTyped(handling, MssInvalidHeaderError, 'ERR_MSS_INVALID_HEADER')
      expect(p.answered()).toBe(0)
      p.close()
    },
  },
  {
    case: 'a devp2p-style frame instead of multistream framing (first byte 0x80)',
    expected: 'a MultistreamError (over-long prefix), stream destroyed',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))
      await expectRejectsTyped(handling, MssProtocolIdTooLongError, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
      p.close()
    },
  },
  {
    case: `endless na loop (unknown proposals, ${DEFAULT_MAX_NA_COUNT + 1} of them)`,
    expected: `MssTooManyAttemptsError (ERR_MSS_TOO_MANY_ATTEMPTS) after ${DEFAULT_MAX_NA_COUNT} na answers`,
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      const proposals = Array.from({ length: DEFAULT_MAX_NA_COUNT + 10 }, (_, i) => line(`/unknown/${i}`))
      p.remote.write(Buffer.concat([HEADER, ...proposals]))
      await expectRejectsTyped(handling, MssTooManyAttemptsError, 'ERR_MSS_TOO_MANY_ATTEMPTS')
      p.close()
    },
  },
  {
    case: `ls flood (${DEFAULT_MAX_LS_COUNT * 10} ls requests)`,
    expected: `MssTooManyLsError (ERR_MSS_TOO_MANY_LS) after ${DEFAULT_MAX_LS_COUNT} answers`,
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, ...Array.from({ length: DEFAULT_MAX_LS_COUNT * 10 }, () => line('ls'))]))
      await expectRejectsTyped(handling, MssTooManyLsError, 'ERR_MSS_TOO_MANY_LS')
      p.close()
    },
  },
  {
    case: 'silent dialer (connects, sends nothing)',
    expected: 'MssTimeoutError (ERR_MSS_TIMEOUT) at the negotiation deadline, stream destroyed',
    run: async () => {
      const p = hostilePair()
      await expectRejectsTyped(mssHandle(p.local, OFFERED, { timeoutMs: 50 }), MssTimeoutError, 'ERR_MSS_TIMEOUT')
      expect(p.local.destroyed).toBe(true)
      p.close()
    },
  },
  {
    case: 'dialer hangs up in the middle of a message',
    expected: 'MssStreamClosedError (ERR_MSS_STREAM_CLOSED)',
    run: async () => {
      const p = hostilePair()
      const handling = mssHandle(p.local, OFFERED)
      p.remote.end(HEADER.subarray(0, 5))
      await expectRejectsTyped(handling, MssStreamClosedError, 'ERR_MSS_STREAM_CLOSED')
      p.close()
    },
  },
])

badInputTable('multistream', 'reserved words as protocol ids', [
  {
    case: 'dialer asked to propose "na" to a listener that does not offer it',
    expected: 'refused before sending: MssInvalidProtocolIdError (ERR_MSS_INVALID_PROTOCOL_ID); never "selected" on the listener\'s na',
    run: async () => {
      const [x, y] = duplexPair()
      const handling = mssHandle(y, OFFERED)
      handling.catch(() => {})
      let selected: string | undefined
      const err = await mssSelect(x, ['na']).then(
        (r) => {
          selected = r.protocol
          return undefined
        },
        (e: unknown) => e,
      )
      x.destroy()
      y.destroy()
      // Today the listener's refusal "na" is read as the echo of the proposal "na".
      expect(selected, 'the dialer believes "na" was agreed although the listener refused it').toBeUndefined()
      expectTypedError(err, MssInvalidProtocolIdError, 'ERR_MSS_INVALID_PROTOCOL_ID')
    },
  },
  {
    case: 'listener asked to offer "ls"',
    expected: 'refused at once: MssInvalidProtocolIdError (ERR_MSS_INVALID_PROTOCOL_ID) (a dialer\'s "ls" could never select it)',
    run: async () => {
      const [x, y] = duplexPair()
      const err = await mssHandle(y, ['ls'], { timeoutMs: 100 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      x.destroy()
      y.destroy()
      expectTypedError(err, MssInvalidProtocolIdError, 'ERR_MSS_INVALID_PROTOCOL_ID')
    },
  },
])

badInputTable('multistream', 'dialer (mssSelect / mssLs) facing a hostile listener', [
  {
    case: 'listener answers a proposal with another protocol id',
    expected: 'MssInvalidResponseError (ERR_MSS_INVALID_RESPONSE)',
    run: async () => {
      const p = hostilePair()
      const selecting = mssSelect(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, line('/something/else')]))
      await expectRejectsTyped(selecting, MssInvalidResponseError, 'ERR_MSS_INVALID_RESPONSE')
      p.close()
    },
  },
  {
    case: 'listener refuses every proposal',
    expected: 'MssUnsupportedProtocolError (ERR_MSS_UNSUPPORTED_PROTOCOL) after one na per proposal',
    run: async () => {
      const p = hostilePair()
      const selecting = mssSelect(p.local, OFFERED)
      p.remote.write(Buffer.concat([HEADER, line('na'), line('na')]))
      const err = await expectRejectsTyped(selecting, MssUnsupportedProtocolError, 'ERR_MSS_UNSUPPORTED_PROTOCOL')
      expect(err.protocols).toEqual(OFFERED)
      p.close()
    },
  },
  {
    case: 'listener answers with the wrong header',
    expected: 'MssInvalidHeaderError (ERR_MSS_INVALID_HEADER)',
    run: async () => {
      const p = hostilePair()
      const selecting = mssSelect(p.local, OFFERED)
      p.remote.write(line('/multistream/0.9'))
      await expectRejectsTyped(selecting, MssInvalidHeaderError, 'ERR_MSS_INVALID_HEADER')
      p.close()
    },
  },
  {
    case: `ls answer announcing more than ${DEFAULT_MAX_LS_RESPONSE_LENGTH} bytes`,
    expected: 'MssProtocolIdTooLongError (ERR_MSS_PROTOCOL_ID_TOO_LONG) at the prefix',
    run: async () => {
      const p = hostilePair()
      const listing = mssLs(p.local)
      p.remote.write(Buffer.concat([HEADER, encodeUvarint(DEFAULT_MAX_LS_RESPONSE_LENGTH + 1)]))
      await expectRejectsTyped(listing, MssProtocolIdTooLongError, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
      p.close()
    },
  },
  {
    case: 'ls answer with a truncated entry',
    expected: 'MssInvalidResponseError (ERR_MSS_INVALID_RESPONSE)',
    run: async () => {
      const p = hostilePair()
      const listing = mssLs(p.local)
      p.remote.write(Buffer.concat([HEADER, frame(Buffer.concat([encodeUvarint(50), Buffer.from('/short\n')]))]))
      await expectRejectsTyped(listing, MssInvalidResponseError, 'ERR_MSS_INVALID_RESPONSE')
      p.close()
    },
  },
])
