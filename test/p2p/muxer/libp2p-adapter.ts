/**
 * @libp2p/mplex (v12, libp2p v3 interfaces) on a plain net.Socket for the
 * interop tests, built on the benches' socket adapter (bench/lib/libp2p.ts),
 * so one end of a TCP connection can run it and the other our MplexMuxer.
 * Test-only: libp2p packages are devDependencies.
 */
import type { Socket } from 'node:net'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import { libp2pMplex } from '../../../bench/lib/libp2p'

export { libp2pEcho } from '../../../bench/lib/libp2p'

export interface Libp2pMplex {
  muxer: StreamMuxer
  /** Streams the remote opened, in arrival order. */
  onStream(handler: (stream: Stream) => void): void
}

/** @libp2p/mplex on `socket`, with its stream-rate disconnect threshold raised (the tests open streams fast). */
export function libp2pMplexOver(socket: Socket, direction: 'inbound' | 'outbound'): Libp2pMplex {
  const muxer = libp2pMplex(socket, direction)
  return {
    muxer,
    onStream: (handler) => {
      muxer.addEventListener('stream', (evt) => handler(evt.detail))
    },
  }
}

/** Sends `data` on a libp2p stream in `chunk`-sized messages, honouring backpressure, then closes it. */
export async function libp2pWriteAll(stream: Stream, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!stream.send(data.subarray(off, off + chunk))) await stream.onDrain()
  }
  await stream.close()
}

/** Reads a libp2p stream to its end. */
export async function libp2pReadAll(stream: Stream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const buf of stream) parts.push(Buffer.from(buf.subarray()))
  return Buffer.concat(parts)
}
