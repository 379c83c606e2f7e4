/**
 * Drives @libp2p/mplex (v12, libp2p v3 interfaces) over a plain net.Socket, so
 * interop tests can put it on one end of a TCP connection and our MplexMuxer
 * on the other.
 *
 * libp2p v3 muxers read from and write to a MessageStream (a
 * MultiaddrConnection): 'message' events carry inbound bytes, `sendData`
 * receives outbound bytes, 'drain' resumes a sender that saw
 * `canSendMore: false`. SocketConnection maps those onto the socket.
 *
 * Uses transitive dependencies of @libp2p/mplex (@libp2p/utils,
 * @libp2p/logger, @multiformats/multiaddr, uint8arraylist); test-only.
 */
import type { Socket } from 'node:net'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { mplex } from '@libp2p/mplex'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

class SocketConnection extends AbstractMultiaddrConnection {
  private readonly socket: Socket

  constructor(socket: Socket, direction: 'inbound' | 'outbound') {
    super({
      remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`),
      direction,
      log: logger('test:libp2p-socket'),
    })
    this.socket = socket
    socket.on('data', (buf: Buffer) => this.onData(buf))
    socket.on('drain', () => this.safeDispatchEvent('drain'))
    socket.on('end', () => this.onRemoteCloseWrite())
    socket.on('close', () => this.onTransportClosed())
    socket.on('error', (err) => this.abort(err))
  }

  sendData(data: Uint8ArrayList): SendResult {
    let canSendMore = true
    for (const buf of data) canSendMore = this.socket.write(buf)
    return { sentBytes: data.byteLength, canSendMore }
  }

  sendReset(): void {
    this.socket.destroy()
  }

  async sendClose(): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.end()
    })
  }

  sendPause(): void {
    this.socket.pause()
  }

  sendResume(): void {
    this.socket.resume()
  }
}

export interface Libp2pMplex {
  muxer: StreamMuxer
  /** Streams the remote opened, in arrival order. */
  onStream(handler: (stream: Stream) => void): void
}

/**
 * @libp2p/mplex on `socket`. `disconnectThreshold` is raised because the
 * default (5 new streams a second) would have it drop a peer that opens
 * streams as fast as the tests do.
 */
export function libp2pMplexOver(socket: Socket, direction: 'inbound' | 'outbound'): Libp2pMplex {
  const factory = mplex({ disconnectThreshold: 100_000 })()
  const muxer = factory.createStreamMuxer(new SocketConnection(socket, direction))
  return {
    muxer,
    onStream: (handler) => {
      muxer.addEventListener('stream', (evt) => handler(evt.detail))
    },
  }
}

/** Echoes a libp2p stream: every message is sent back, then the stream is closed. */
export async function libp2pEcho(stream: Stream): Promise<void> {
  try {
    for await (const buf of stream) {
      if (!stream.send(buf)) await stream.onDrain()
    }
    await stream.close()
  } catch (err) {
    stream.abort(err as Error)
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
