import { createHash } from 'node:crypto'
import { expect } from 'vitest'
import { encodeUvarint } from '../../src/p2p/codec/uvarint'
import {
  MplexBufferOverflowError,
  MplexDuplicateStreamError,
  MplexFrameTooLargeError,
  MplexInvalidFlagError,
  MplexInvalidFrameError,
  MplexMuxer,
  type MplexMuxerOptions,
  MplexStreamResetError,
  type MplexStream,
  encodeFrame,
  FrameDecoder,
  MAX_FRAME_SIZE,
  MplexFlag,
  type StreamId,
} from '../../src/p2p/muxer/index'
import { duplexPair, type MemoryDuplex } from '../utils/duplex-pair'
import { waitUntil, within } from '../utils/sockets'
import { badInputTable, expectTypedError } from './table'

/** Cases of tiny frames in the "million tiny frames" case (MPLEX_TINY_FRAMES overrides, e.g. for a quick local run). */
const TINY_FRAMES = Number(process.env.MPLEX_TINY_FRAMES ?? 1_000_000)

interface SeenFrame {
  id: string
  kind: 'new' | 'msg' | 'close' | 'reset'
  bytes: number
}

/**
 * A muxer under test, driven by a hand-written remote: the test writes raw
 * mplex frames (as the stream initiator), reads back the frames the muxer
 * writes, and every inbound stream is an echo unless told otherwise.
 */
class RawPeer {
  readonly remote: MemoryDuplex
  readonly local: MemoryDuplex
  readonly muxer: MplexMuxer
  readonly inbound: MplexStream[] = []
  readonly written: SeenFrame[] = []
  readonly echoed = new Map<string, Buffer[]>()
  readonly closed: Promise<Error | undefined>

  /** `echo`: which inbound streams echo what they read (default all); the others are left unread. */
  constructor(opts: MplexMuxerOptions & { echo?: boolean | ((s: MplexStream) => boolean) } = {}) {
    const [remote, local] = duplexPair()
    this.remote = remote
    this.local = local
    const echo = opts.echo ?? true
    this.muxer = new MplexMuxer(local, {
      ...opts,
      onStream: (s) => {
        this.inbound.push(s)
        s.on('error', () => {}) // each case asserts the errors it expects through the stream's `errored`
        if (typeof echo === 'function' ? echo(s) : echo) s.pipe(s)
      },
    })
    this.closed = new Promise((resolve) => this.muxer.once('close', resolve))
    const decoder = new FrameDecoder({
      onNewStream: (id) => void this.written.push({ id: String(id), kind: 'new', bytes: 0 }),
      onMessage: (id, _init, data) => {
        this.written.push({ id: String(id), kind: 'msg', bytes: data.length })
        const list = this.echoed.get(String(id)) ?? []
        list.push(Buffer.from(data))
        this.echoed.set(String(id), list)
      },
      onClose: (id) => void this.written.push({ id: String(id), kind: 'close', bytes: 0 }),
      onReset: (id) => void this.written.push({ id: String(id), kind: 'reset', bytes: 0 }),
    })
    remote.on('data', (chunk: Buffer) => decoder.push(chunk))
    remote.on('error', () => {})
    local.on('error', () => {})
  }

  send(id: StreamId, flag: number, data?: Uint8Array | string): void {
    this.remote.write(encodeFrame(id, flag, typeof data === 'string' ? Buffer.from(data) : data))
  }

  /** Opens stream `id` from the remote side and sends `data` on it. */
  open(id: StreamId, data?: string): void {
    this.send(id, MplexFlag.NewStream, String(id))
    if (data !== undefined) this.send(id, MplexFlag.MessageInitiator, data)
  }

  echoOf(id: StreamId): string {
    return Buffer.concat(this.echoed.get(String(id)) ?? []).toString()
  }

  /** A fresh stream opened by the remote is still echoed: the connection serves. */
  async expectServing(id: StreamId): Promise<void> {
    this.open(id, `still serving ${id}`)
    await waitUntil(this.remote, ['data'], () => this.echoOf(id) === `still serving ${id}`, `echo on stream ${id}`)
    expect(this.muxer.status).toBe('open')
  }

  async expectAborted<E extends Error>(type: abstract new (...args: never[]) => E, code: string): Promise<E> {
    const err = await within(this.closed, 'muxer close')
    const typed = expectTypedError(err, type, code)
    expect(this.local.destroyed).toBe(true)
    return typed
  }

  close(): void {
    this.muxer.abort(new Error('test over'))
    this.remote.destroy()
  }
}

badInputTable('mplex', 'connection-level violations (the connection is aborted)', [
  {
    case: 'frame with flag 7',
    expected: 'MplexInvalidFlagError (ERR_MPLEX_INVALID_FLAG), connection aborted, open streams fail with it',
    run: async () => {
      const p = new RawPeer({ echo: false })
      p.open(1)
      p.send(1, 7, 'x')
      const err = await p.expectAborted(MplexInvalidFlagError, 'ERR_MPLEX_INVALID_FLAG')
      expect(p.inbound[0]?.errored).toBe(err)
      p.close()
    },
  },
  {
    case: `frame announcing ${MAX_FRAME_SIZE + 1} bytes (over 1 MiB)`,
    expected: 'MplexFrameTooLargeError (ERR_MPLEX_FRAME_TOO_LARGE) at the header, before the data',
    run: async () => {
      const p = new RawPeer()
      p.remote.write(Buffer.concat([encodeUvarint(1 * 8 + MplexFlag.NewStream), encodeUvarint(MAX_FRAME_SIZE + 1)]))
      await p.expectAborted(MplexFrameTooLargeError, 'ERR_MPLEX_FRAME_TOO_LARGE')
      p.close()
    },
  },
  {
    case: 'frame header varint of 10 bytes',
    expected: 'MplexInvalidFrameError (ERR_MPLEX_INVALID_FRAME)',
    run: async () => {
      const p = new RawPeer()
      p.remote.write(Buffer.alloc(10, 0xff))
      await p.expectAborted(MplexInvalidFrameError, 'ERR_MPLEX_INVALID_FRAME')
      p.close()
    },
  },
  {
    case: 'stream id reused while the stream is open',
    expected: 'MplexDuplicateStreamError (ERR_MPLEX_DUPLICATE_STREAM), connection aborted',
    run: async () => {
      const p = new RawPeer()
      p.open(5, 'a')
      p.open(5, 'b')
      await p.expectAborted(MplexDuplicateStreamError, 'ERR_MPLEX_DUPLICATE_STREAM')
      p.close()
    },
  },
])

badInputTable('mplex', 'stream-level abuse (the connection keeps serving)', [
  {
    case: 'data, close and reset for stream ids never opened',
    expected: 'dropped without an answer; the connection keeps serving',
    run: async () => {
      const p = new RawPeer()
      for (let id = 100; id < 200; id++) {
        p.send(id, MplexFlag.MessageInitiator, 'who?')
        p.send(id, MplexFlag.MessageReceiver, 'who?')
        p.send(id, MplexFlag.CloseInitiator)
        p.send(id, MplexFlag.ResetInitiator)
      }
      await p.expectServing(1)
      expect(p.written.filter((f) => Number(f.id) >= 100)).toEqual([])
      p.close()
    },
  },
  {
    case: 'reset storm: 10,000 streams opened and reset at once',
    expected: 'each stream fails with MplexStreamResetError (ERR_MPLEX_STREAM_RESET); none left open; the connection keeps serving',
    timeoutMs: 120_000,
    run: async () => {
      const p = new RawPeer()
      const frames: Uint8Array[] = []
      for (let id = 0; id < 10_000; id++) frames.push(encodeFrame(id, MplexFlag.NewStream), encodeFrame(id, MplexFlag.ResetInitiator))
      p.remote.write(Buffer.concat(frames))
      await waitUntil(p.local, ['data'], () => p.inbound.length === 10_000, '10,000 inbound streams')
      // One assertion over all 10,000 outcomes (per-stream expect() calls would dominate the run time).
      const outcomes = new Set(p.inbound.map((st) => (st.errored instanceof MplexStreamResetError ? st.errored.code : String(st.errored))))
      expect([...outcomes]).toEqual(['ERR_MPLEX_STREAM_RESET'])
      expect(p.muxer.streams.length).toBe(0)
      await p.expectServing(20_000)
      p.close()
    },
  },
  {
    case: `${TINY_FRAMES.toLocaleString('en')} one-byte frames on one stream`,
    expected: 'every byte delivered once, in order (checksum), connection open',
    timeoutMs: 180_000,
    run: async () => {
      const p = new RawPeer({ echo: false })
      p.open(1)
      await waitUntil(p.local, ['data'], () => p.inbound.length > 0, 'inbound stream 1')
      const hash = createHash('sha256')
      const expected = createHash('sha256')
      let received = 0
      const done = new Promise<void>((resolve) => {
        p.inbound[0]!.on('data', (chunk: Buffer) => {
          hash.update(chunk)
          received += chunk.length
          if (received === TINY_FRAMES) resolve()
        })
      })
      // Written in batches so the in-memory pipe's backpressure applies as a socket's would.
      const BATCH = 10_000
      for (let i = 0; i < TINY_FRAMES; i += BATCH) {
        const batch: Uint8Array[] = []
        for (let k = i; k < Math.min(TINY_FRAMES, i + BATCH); k++) {
          const byte = Uint8Array.of(k & 0xff)
          expected.update(byte)
          batch.push(encodeFrame(1, MplexFlag.MessageInitiator, byte))
        }
        if (!p.remote.write(Buffer.concat(batch))) await within(new Promise((resolve) => p.remote.once('drain', resolve)), 'drain')
      }
      await within(done, 'all tiny frames', 170_000)
      expect(hash.digest('hex')).toBe(expected.digest('hex'))
      expect(p.muxer.status).toBe('open')
      p.close()
    },
  },
  {
    case: 'more inbound streams than maxInboundStreams (4 allowed, 10 opened)',
    expected: 'the 6 extra streams are reset at once; the 4 others and the connection keep working',
    run: async () => {
      const p = new RawPeer({ maxInboundStreams: 4 })
      for (let id = 1; id <= 10; id++) p.open(id, `hi ${id}`)
      await waitUntil(p.remote, ['data'], () => p.written.filter((f) => f.kind === 'reset').length === 6, 'six resets')
      expect(p.inbound.length).toBe(4)
      await waitUntil(p.remote, ['data'], () => [1, 2, 3, 4].every((id) => p.echoOf(id) === `hi ${id}`), 'echo on the first four')
      expect(p.muxer.status).toBe('open')
      p.close()
    },
  },
  {
    case: 'remote ignores backpressure and floods a stream nobody reads past maxStreamBufferSize',
    expected: 'that stream is reset with MplexBufferOverflowError (ERR_MPLEX_BUFFER_OVERFLOW); the connection keeps serving',
    run: async () => {
      const p = new RawPeer({ echo: (st) => st.id !== 1, streamHighWaterMark: 1024, maxStreamBufferSize: 64 * 1024 })
      p.open(1)
      // One chunk holding 128 KiB of frames: already read when the muxer pauses the connection.
      const frames = Array.from({ length: 32 }, () => encodeFrame(1, MplexFlag.MessageInitiator, Buffer.alloc(4096)))
      p.remote.write(Buffer.concat(frames))
      await waitUntil(p.local, ['data'], () => p.inbound[0]?.errored != null, 'stream 1 reset')
      expectTypedError(p.inbound[0]!.errored, MplexBufferOverflowError, 'ERR_MPLEX_BUFFER_OVERFLOW')
      await waitUntil(p.remote, ['data'], () => p.written.some((f) => f.kind === 'reset' && f.id === '1'), 'reset frame for stream 1')
      p.open(2, 'ping')
      await waitUntil(p.remote, ['data'], () => p.echoOf(2) === 'ping', 'echo on stream 2')
      p.close()
    },
  },
])
