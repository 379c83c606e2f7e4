import { afterEach, describe, expect, it } from 'vitest'
import { FrameModeError, type SecureFrameSink, secureOutbound } from '../../../src/p2p/crypto'
import { securePair } from '../rlpx/helpers'
import { Devp2pPeer } from './devp2p-driver'
import { nodeKey, randomBytes, readBytes, tcpPair, within } from './helpers'

// Frame mode of the secure stream (the RLPx session's view of the channel):
// each frame whole, in order, with backpressure, and the way back to bytes.

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** A sink that records frames and can be told to stop taking them. */
class Recorder implements SecureFrameSink {
  readonly frames: Buffer[] = []
  ended = false
  drained = 0
  take = true
  #waiters: Array<() => void> = []

  frame(body: Buffer): boolean {
    this.frames.push(body)
    this.#wake()
    return this.take
  }

  drain(): void {
    this.drained++
    this.#wake()
  }

  end(): void {
    this.ended = true
    this.#wake()
  }

  async until(predicate: () => boolean, what: string): Promise<void> {
    const wait = async (): Promise<void> => {
      while (!predicate()) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
    await within(wait(), 10_000, what)
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

async function pair(transport: 'memory' | 'tcp' = 'tcp') {
  const p = await securePair(transport)
  cleanup.push(p.close)
  return p
}

const SIZES = [1, 15, 16, 17, 1000, 70_000, 300_000, 1_000_000]

describe('SecureStream frame mode', () => {
  it.each(['memory', 'tcp'] as const)('delivers every frame whole and in order over %s, however TCP cuts it', async (transport) => {
    const { dialer, listener } = await pair(transport)
    const rx = new Recorder()
    listener.readFrames(rx, { maxFrameSize: 2_000_000 })
    dialer.readFrames(new Recorder())
    const sent = SIZES.map((n) => randomBytes(n))
    for (const body of sent) dialer.writeFrame([body.subarray(0, 1), body.subarray(1)])
    dialer.writeFrame([])
    await rx.until(() => rx.frames.length === sent.length + 1, 'all frames')
    expect(rx.frames.map((f) => f.length)).toEqual([...SIZES, 0])
    sent.forEach((body, i) => expect(rx.frames[i]!.equals(body)).toBe(true))
  })

  it('holds frames while the sink asks to wait and pauses the socket; resumeFrames delivers them in order', async () => {
    const { dialer, listener } = await pair()
    const rx = new Recorder()
    rx.take = false
    listener.readFrames(rx)
    dialer.readFrames(new Recorder())
    for (let i = 0; i < 5; i++) dialer.writeFrame([Buffer.from(`frame-${i}`)])
    await rx.until(() => rx.frames.length === 1, 'first frame')
    expect(rx.frames.map(String)).toEqual(['frame-0'])
    rx.take = true
    listener.resumeFrames()
    await rx.until(() => rx.frames.length === 5, 'the held frames')
    expect(rx.frames.map(String)).toEqual(['frame-0', 'frame-1', 'frame-2', 'frame-3', 'frame-4'])
  })

  it('readBytes leaves frame mode: the unread frame, then the held ones, become the first bytes', async () => {
    const { dialer, listener } = await pair()
    const rx = new Recorder()
    rx.take = false
    listener.readFrames(rx)
    dialer.write(Buffer.from('one|'))
    await rx.until(() => rx.frames.length === 1, 'first frame')
    dialer.write(Buffer.from('two|'))
    setImmediate(() => dialer.write(Buffer.from('three')))
    listener.readBytes([rx.frames[0]!])
    expect((await within(readBytes(listener, 13), 5000, 'bytes')).toString()).toBe('one|two|three')
  })

  it('readBytes with nothing to give back still serves a reader that waited through frame mode', async () => {
    const { dialer, listener } = await pair()
    const rx = new Recorder()
    rx.take = false
    listener.readFrames(rx)
    const got: Buffer[] = []
    listener.on('data', (chunk: Buffer) => got.push(chunk))
    dialer.write(Buffer.from('taken'))
    await rx.until(() => rx.frames.length === 1, 'first frame')
    listener.readBytes()
    dialer.write(Buffer.from('after'))
    await within(new Promise<void>((resolve) => listener.once('data', () => resolve())), 5000, 'bytes after frame mode')
    expect(Buffer.concat(got).toString()).toBe('after')
  })

  it('the dialer gets a frame that came in the same read as the ack, whole', async () => {
    const them = nodeKey()
    const us = nodeKey()
    const { client, server, close } = await tcpPair()
    cleanup.push(close)
    const devp2p = new Devp2pPeer(server, them.privateKey, null)
    const first = randomBytes(5000)
    const [ours] = await within(Promise.all([secureOutbound(client, { privateKey: us.privateKey, remoteId: them.id }), devp2p.respond('eip8', first)]), 10_000, 'handshake')
    cleanup.push(() => ours.stream.destroy())
    const rx = new Recorder()
    ours.stream.readFrames(rx)
    await rx.until(() => rx.frames.length === 1, 'first frame')
    expect(rx.frames[0]!.equals(first)).toBe(true)
  })

  it('reports the remote end to the sink, then closes', async () => {
    const { dialer, listener } = await pair()
    const rx = new Recorder()
    listener.readFrames(rx)
    dialer.readFrames(new Recorder())
    dialer.writeFrame([Buffer.from('last')])
    dialer.end()
    await rx.until(() => rx.ended, 'end')
    expect(rx.frames.map(String)).toEqual(['last'])
    listener.end()
    await within(new Promise<void>((resolve) => (listener.destroyed ? resolve() : listener.once('close', () => resolve()))), 5000, 'close')
  })

  it('writeFrame reports a full socket and calls drain() once it emptied', async () => {
    const { dialer, listener } = await pair()
    const tx = new Recorder()
    dialer.readFrames(tx)
    const rx = new Recorder()
    rx.take = false
    listener.readFrames(rx)
    let ok = true
    let n = 0
    while (ok && n < 200) {
      ok = dialer.writeFrame([randomBytes(256 * 1024)])
      n++
    }
    expect(ok).toBe(false)
    rx.take = true
    listener.resumeFrames()
    await tx.until(() => tx.drained > 0, 'drain')
    await rx.until(() => rx.frames.length === n, 'every frame')
  })

  it('refuses mixing modes with FrameModeError', async () => {
    const { dialer, listener } = await pair()
    expect(() => dialer.writeFrame([Buffer.from('x')])).toThrow(FrameModeError)
    listener.resume()
    await new Promise((resolve) => setImmediate(resolve))
    expect(() => listener.readFrames(new Recorder())).toThrow(FrameModeError)
    expect(() => dialer.readFrames(new Recorder(), { maxFrameSize: 0x1000000 })).toThrow(FrameModeError)
    dialer.readFrames(new Recorder())
    expect(() => dialer.writeFrame([Buffer.alloc(0x1000000)])).toThrow(FrameModeError)
    // a byte write in frame mode fails (and, as any failed write, destroys the stream)
    const failed = new Promise<Error | null | undefined>((resolve) => dialer.write(Buffer.from('bytes'), resolve))
    expect(await failed).toBeInstanceOf(FrameModeError)
  })
})
