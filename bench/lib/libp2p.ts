/**
 * The js-libp2p anchor: @libp2p/mplex (libp2p v3 interfaces) on a plain
 * Node socket, and @libp2p/multistream-select on its streams. The benches
 * and the interop tests (test/interop) share this one socket adapter.
 *
 * libp2p v3 muxers and multistream-select run over a MultiaddrConnection (a
 * MessageStream): inbound bytes are pushed with `onData`, outbound bytes
 * arrive in `sendData`, and a 'drain' event resumes a sender that was told
 * `canSendMore: false`. SocketConnection maps that onto a net.Socket. Uses
 * @libp2p/utils, @libp2p/logger and @multiformats/multiaddr, which
 * @libp2p/mplex depends on.
 */
import type { Socket } from 'node:net'

import type { Stream, StreamMuxer } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { mplex } from '@libp2p/mplex'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * @libp2p/mplex drops a peer that opens more than `disconnectThreshold`
 * streams a second past its inbound limit (default 5); the stream benches
 * open thousands a second on purpose.
 */
const DISCONNECT_THRESHOLD = 1_000_000

/** A libp2p v3 MultiaddrConnection over a connected net.Socket. */
export class SocketConnection extends AbstractMultiaddrConnection {
  constructor(
    private readonly socket: Socket,
    direction: 'inbound' | 'outbound',
  ) {
    super({ remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`), direction, log: logger(`libp2p-socket:${direction}`) })
    socket.on('data', (b: Buffer) => this.onData(b))
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

/** @libp2p/mplex on `socket`; `onStream` gets every stream the remote opens. */
export function libp2pMplex(socket: Socket, direction: 'inbound' | 'outbound', onStream?: (s: Stream) => void): StreamMuxer {
  const muxer = mplex({ disconnectThreshold: DISCONNECT_THRESHOLD })().createStreamMuxer(new SocketConnection(socket, direction))
  if (onStream !== undefined) muxer.addEventListener('stream', (evt) => onStream(evt.detail))
  return muxer
}

/** Sends `data` on a libp2p stream, waiting for 'drain' whenever it asks to. */
export async function sendAll(stream: Stream, chunk: Uint8Array, total: number): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk.length) {
    const part = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent)
    if (!stream.send(part)) await stream.onDrain()
  }
}

/** Echoes every message back, then closes our side once the remote closed theirs. */
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

/** Reads a libp2p stream to its end; returns the byte count. */
export async function drain(stream: Stream): Promise<number> {
  let n = 0
  for await (const buf of stream) n += buf.byteLength
  return n
}
