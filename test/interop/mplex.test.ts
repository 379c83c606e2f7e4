import type { Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { MplexMuxer, type MplexStream } from '../../src/p2p/muxer/index'
import { deferred, echo, randomBytes, readAll, tcpPair, waitFor, waitForError, writeAll } from '../p2p/muxer/helpers'
import { libp2pEcho, libp2pMplexOver, libp2pReadAll, libp2pWriteAll } from '../p2p/muxer/libp2p-adapter'

const cleanups: Array<() => void | Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn()
})

const STREAMS = 50

/** Payload for stream i: sizes from 1 byte to ~200 KiB, plus one of 3 MiB that must be split into 1 MiB frames. */
function payload(i: number): Buffer {
  if (i === 0) return randomBytes(3 * 1024 * 1024 + 17, 99)
  return randomBytes(1 + ((i * 40_503) % 200_000), i + 1)
}

async function setup() {
  const pair = await tcpPair()
  cleanups.push(pair.close)
  return pair
}

describe('mplex interop with @libp2p/mplex over TCP', () => {
  it('ours dials, @libp2p/mplex listens: 50 concurrent streams echo byte-exact', async () => {
    const { client, server } = await setup()
    const theirs = libp2pMplexOver(server, 'inbound')
    const names: string[] = []
    theirs.onStream((s) => {
      names.push(s.id)
      void libp2pEcho(s)
    })
    const ours = new MplexMuxer(client)
    const results = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const data = payload(i)
        const stream = ours.newStream()
        // Stream 0 writes its 3 MiB in one call: the muxer must split it into <= 1 MiB frames.
        const chunk = i === 0 ? data.length : 64 * 1024
        const [back] = await Promise.all([readAll(stream, 30_000), writeAll(stream, data, chunk)])
        return back.equals(data)
      }),
    )
    expect(results.filter(Boolean)).toHaveLength(STREAMS)
    expect(names).toHaveLength(STREAMS)
    expect(ours.streams).toEqual([])
    const theirsClosed = waitFor(server, 'close')
    await ours.close()
    expect(ours.status).toBe('closed')
    await theirsClosed
  })

  it('@libp2p/mplex dials, ours listens: 50 concurrent streams echo byte-exact', async () => {
    const { client, server } = await setup()
    const accepted: MplexStream[] = []
    const ours = new MplexMuxer(server, {
      onStream: (s) => {
        accepted.push(s)
        echo(s)
      },
    })
    const theirs = libp2pMplexOver(client, 'outbound')
    const results = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const data = payload(i)
        const stream = await theirs.muxer.createStream()
        const chunk = i === 0 ? data.length : 64 * 1024
        const [back] = await Promise.all([libp2pReadAll(stream), libp2pWriteAll(stream, data, chunk)])
        return back.equals(data)
      }),
    )
    expect(results.filter(Boolean)).toHaveLength(STREAMS)
    expect(accepted).toHaveLength(STREAMS)
    expect(accepted.every((s) => s.direction === 'inbound')).toBe(true)
    expect(new Set(accepted.map((s) => s.id)).size).toBe(STREAMS)
    await theirs.muxer.close()
    expect(ours.streams).toEqual([])
  })

  it('both sides open streams at once over one connection (overlapping ids)', async () => {
    const { client, server } = await setup()
    const theirs = libp2pMplexOver(server, 'inbound')
    theirs.onStream((s) => void libp2pEcho(s))
    const ours = new MplexMuxer(client, { onStream: echo })
    const jobs: Array<Promise<boolean>> = []
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(10_000 + i, i + 7)
      jobs.push(
        (async () => {
          const s = ours.newStream()
          const [back] = await Promise.all([readAll(s), writeAll(s, data)])
          return back.equals(data)
        })(),
      )
      jobs.push(
        (async () => {
          const s = await theirs.muxer.createStream()
          const [back] = await Promise.all([libp2pReadAll(s), libp2pWriteAll(s, data)])
          return back.equals(data)
        })(),
      )
    }
    expect((await Promise.all(jobs)).every(Boolean)).toBe(true)
  })

  it('resets cross in both directions', async () => {
    const { client, server } = await setup()
    const theirs = libp2pMplexOver(server, 'inbound')
    const theirStreams: Stream[] = []
    const arrived = deferred<void>()
    theirs.onStream((s) => {
      theirStreams.push(s)
      if (theirStreams.length === 2) arrived.resolve()
    })
    const ours = new MplexMuxer(client)
    const resetByUs = ours.newStream()
    const resetByThem = ours.newStream()
    resetByUs.write(Buffer.from('a'))
    resetByThem.write(Buffer.from('b'))
    await arrived.promise
    const [theirFirst, theirSecond] = theirStreams as [Stream, Stream]
    // Our reset: their reads fail.
    const theirRead = libp2pReadAll(theirFirst).then(
      () => 'ended cleanly',
      (err: Error) => err.name,
    )
    resetByUs.reset()
    expect(await theirRead).toBe('StreamResetError')
    // Their abort: our stream errors with a typed reset.
    const ourErr = waitForError(resetByThem)
    theirSecond.abort(new Error('go away'))
    expect((await ourErr).code).toBe('ERR_MPLEX_STREAM_RESET')
    expect(ours.streams).toEqual([])
  })

  it('half-close: @libp2p/mplex keeps writing after we closed our side', async () => {
    const { client, server } = await setup()
    const theirs = libp2pMplexOver(server, 'inbound')
    theirs.onStream((s) => {
      void (async () => {
        const req = await libp2pReadAll(s) // ends when our Close arrives
        await libp2pWriteAll(s, Buffer.concat([Buffer.from('reply to '), req]))
      })()
    })
    const ours = new MplexMuxer(client)
    const stream = ours.newStream()
    stream.end(Buffer.from('question'))
    expect((await readAll(stream)).toString()).toBe('reply to question')
  })
})
