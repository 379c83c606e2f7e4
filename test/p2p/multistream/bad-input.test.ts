import { once } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AbortError } from '../../../src/p2p/errors'
import {
  DEFAULT_MAX_LS_COUNT,
  DEFAULT_MAX_NA_COUNT,
  mssHandle,
  mssLs,
  mssSelect,
  MssTimeoutError,
  MultistreamError,
} from '../../../src/p2p/multistream'
import { HEADER, line, usePairs } from './helpers'

const pair = usePairs()

/** Awaits the rejection and checks its code and that the stream was destroyed with it. */
async function expectFailure(p: Promise<unknown>, stream: { destroyed: boolean }, code: string): Promise<Error> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e as Error,
  )
  expect(err).toBeInstanceOf(MultistreamError)
  expect((err as MultistreamError).code).toBe(code)
  expect(stream.destroyed).toBe(true)
  return err
}

describe('multistream-select listener on bad input', () => {
  it('rejects a protocol id over 1024 bytes from its length prefix', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(HEADER)
    a.write(line(`/${'a'.repeat(1024)}`).subarray(0, 3)) // prefix of a 1026-byte message and one byte
    await expectFailure(handling, b, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
  })

  it('accepts a protocol id of exactly 1024 bytes', async () => {
    const [a, b] = pair()
    const id = `/${'a'.repeat(1023)}`
    const [sel, han] = await Promise.all([mssSelect(a, [id]), mssHandle(b, [id])])
    expect([sel.protocol, han.protocol]).toEqual([id, id])
  })

  it('refuses to offer the reserved words na, ls and the header', async () => {
    for (const reserved of ['na', 'ls', '/multistream/1.0.0']) {
      const [, b] = pair()
      await expectFailure(mssHandle(b, ['/x/1', reserved]), b, 'ERR_MSS_INVALID_PROTOCOL_ID')
    }
  })

  it('rejects a message without its newline', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(Buffer.concat([HEADER, Buffer.from([4]), Buffer.from('/x/1')]))
    await expectFailure(handling, b, 'ERR_MSS_MISSING_NEWLINE')
  })

  it('rejects a wrong header', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(Buffer.concat([line('/multistream/2.0.0'), line('/x/1')]))
    const err = await expectFailure(handling, b, 'ERR_MSS_INVALID_HEADER')
    expect(err.message).toContain('/multistream/2.0.0')
  })

  it('rejects a garbage length prefix at once', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(Buffer.from([0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))
    await expectFailure(handling, b, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
  })

  it('fails with a typed error on any random bytes followed by EOF (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const [a, b] = pair()
        const handling = mssHandle(b, ['/x/1'])
        a.end(bytes)
        const err = await handling.then(
          () => new Error('resolved'),
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(MultistreamError)
        expect(b.destroyed).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('gives up on a dialer that proposes forever (endless na)', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'], { maxNaCount: 5 })
    a.write(HEADER)
    for (let i = 0; i < 6; i++) a.write(line(`/nope/${i}`))
    await expectFailure(handling, b, 'ERR_MSS_TOO_MANY_ATTEMPTS')
  })

  it('answers the default number of refusals, then gives up', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(Buffer.concat([HEADER, ...Array.from({ length: DEFAULT_MAX_NA_COUNT + 1 }, (_, i) => line(`/n/${i}`))]))
    await expectFailure(handling, b, 'ERR_MSS_TOO_MANY_ATTEMPTS')
  })

  it('limits ls requests', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.write(Buffer.concat([HEADER, ...Array.from({ length: DEFAULT_MAX_LS_COUNT + 1 }, () => line('ls'))]))
    await expectFailure(handling, b, 'ERR_MSS_TOO_MANY_LS')
  })

  it('times out a dialer that never finishes', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'], { timeoutMs: 30 })
    a.write(HEADER)
    const err = await expectFailure(handling, b, 'ERR_MSS_TIMEOUT')
    expect(err).toBeInstanceOf(MssTimeoutError)
  })

  it('fails when the dialer closes mid-negotiation', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/x/1'])
    a.end(HEADER)
    await expectFailure(handling, b, 'ERR_MSS_STREAM_CLOSED')
  })

  it('stops on abort with the abort reason and destroys the stream', async () => {
    const [, b] = pair()
    const controller = new AbortController()
    const handling = mssHandle(b, ['/x/1'], { signal: controller.signal })
    const reason = new Error('shutting down')
    controller.abort(reason)
    await expect(handling).rejects.toBe(reason)
    expect(b.destroyed).toBe(true)
  })

  it('rejects at once with an already-aborted signal', async () => {
    const [, b] = pair()
    const err = await mssHandle(b, ['/x/1'], { signal: AbortSignal.abort() }).catch((e: unknown) => e)
    // A reason-less abort (a DOMException) becomes the stack's typed AbortError.
    expect(err).toBeInstanceOf(AbortError)
    expect((err as AbortError).code).toBe('ERR_ABORTED')
    expect(b.destroyed).toBe(true)
  })
})

describe('multistream-select dialer on bad input', () => {
  it('refuses to propose an id over 1024 bytes, writing nothing', async () => {
    const [a] = pair({ recordWrites: true })
    await expectFailure(mssSelect(a, [`/${'a'.repeat(1024)}`]), a, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
    expect(a.writes).toHaveLength(0)
  })

  it('refuses an empty list and empty or multi-line ids', async () => {
    await expectFailure(mssSelect(pair()[0], []), { destroyed: true }, 'ERR_MSS_INVALID_PROTOCOL_ID')
    await expectFailure(mssSelect(pair()[0], ['']), { destroyed: true }, 'ERR_MSS_INVALID_PROTOCOL_ID')
    await expectFailure(mssSelect(pair()[0], ['/a\n/b']), { destroyed: true }, 'ERR_MSS_INVALID_PROTOCOL_ID')
  })

  it('refuses to propose the reserved words na, ls and the header, writing nothing', async () => {
    for (const reserved of ['na', 'ls', '/multistream/1.0.0']) {
      const [a] = pair({ recordWrites: true })
      await expectFailure(mssSelect(a, ['/x/1', reserved]), a, 'ERR_MSS_INVALID_PROTOCOL_ID')
      expect(a.writes).toHaveLength(0)
    }
  })

  it('reads a listener\'s na as a refusal before comparing it with the proposal', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    b.write(Buffer.concat([HEADER, line('na')]))
    await expectFailure(selecting, a, 'ERR_MSS_UNSUPPORTED_PROTOCOL')
  })

  it('reports unsupported when every proposal is refused', async () => {
    const [a, b] = pair()
    const handling = mssHandle(b, ['/other/1']).catch((e: unknown) => e)
    const err = await expectFailure(mssSelect(a, ['/x/2', '/x/1']), a, 'ERR_MSS_UNSUPPORTED_PROTOCOL')
    expect(err.message).toContain('/x/2, /x/1')
    expect(await handling).toMatchObject({ code: 'ERR_MSS_STREAM_CLOSED' })
  })

  it('rejects a wrong header from the listener', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    b.write(Buffer.concat([line('/multistream/0.9'), line('/x/1')]))
    await expectFailure(selecting, a, 'ERR_MSS_INVALID_HEADER')
  })

  it('rejects an answer that is neither the proposal nor na', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    b.write(Buffer.concat([HEADER, line('/y/1')]))
    await expectFailure(selecting, a, 'ERR_MSS_INVALID_RESPONSE')
  })

  it('rejects an answer without newline', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    b.write(Buffer.concat([HEADER, Buffer.from([2]), Buffer.from('na')]))
    await expectFailure(selecting, a, 'ERR_MSS_MISSING_NEWLINE')
  })

  it('rejects an over-long answer from its prefix', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    b.write(Buffer.concat([HEADER, Buffer.from([0x82, 0x08])])) // 1026 bytes announced
    await expectFailure(selecting, a, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
  })

  it('times out a listener that never answers', async () => {
    const [a] = pair()
    await expectFailure(mssSelect(a, ['/x/1'], { timeoutMs: 30 }), a, 'ERR_MSS_TIMEOUT')
  })

  it('fails when the listener destroys the stream', async () => {
    const [a, b] = pair()
    const selecting = mssSelect(a, ['/x/1'])
    await once(b, 'readable')
    b.destroy()
    await expectFailure(selecting, a, 'ERR_MSS_STREAM_CLOSED')
  })

  it('ls: rejects na and an over-long answer', async () => {
    const [a, b] = pair()
    const listing = mssLs(a)
    b.write(Buffer.concat([HEADER, line('na')]))
    await expectFailure(listing, a, 'ERR_MSS_INVALID_RESPONSE')
    const [c, d] = pair()
    const listing2 = mssLs(c, { maxLsResponseLength: 100 })
    d.write(Buffer.concat([HEADER, Buffer.from([101])]))
    await expectFailure(listing2, c, 'ERR_MSS_PROTOCOL_ID_TOO_LONG')
  })
})
