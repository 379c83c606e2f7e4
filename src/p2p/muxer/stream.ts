import { Duplex } from 'node:stream'
import { MplexConnectionClosedError, MplexStreamResetError } from './errors'
import type { InboundFlow } from './flow'
import { MplexFlag, type StreamId } from './frame'
import type { FrameWriter } from './writer'

export type StreamDirection = 'inbound' | 'outbound'

/** What a stream needs from its muxer; one instance per muxer, shared by all its streams. */
export interface StreamContext {
  readonly writer: FrameWriter
  readonly flow: InboundFlow<MplexStream>
  readonly maxFrameSize: number
  readonly highWaterMark: number
  /** The stream sent its Close frame. */
  onLocalClose(stream: MplexStream): void
  /** Both sides closed, or the stream was reset/destroyed: drop it from the stream table. */
  onDone(stream: MplexStream): void
}

/**
 * One mplex stream as a Node Duplex. Writes become Message frames (split at
 * `maxFrameSize`), `end()` sends Close (half-close: the remote may keep
 * writing), `reset()`/`destroy()` send Reset unless both sides already closed.
 * A remote Reset destroys the stream with MplexStreamResetError. Inbound data
 * is pushed into the readable buffer; the muxer's InboundFlow turns a full
 * buffer into connection backpressure (see flow.ts).
 *
 * Attach an 'error' listener: resets and connection failures surface as
 * 'error' events, as they do on a net.Socket.
 */
export class MplexStream extends Duplex {
  readonly id: StreamId
  /** Name from the NewStream frame; informational only. */
  readonly name: string
  readonly direction: StreamDirection
  /** Protocol negotiated on this stream; set by the Connection. */
  protocol?: string

  readonly #ctx: StreamContext
  readonly #messageFlag: number
  readonly #closeFlag: number
  readonly #resetFlag: number
  #localClosed = false
  #remoteClosed = false
  #remoteReset = false
  #registered = true

  constructor(ctx: StreamContext, id: StreamId, name: string, direction: StreamDirection) {
    super({ readableHighWaterMark: ctx.highWaterMark, allowHalfOpen: true })
    this.#ctx = ctx
    this.id = id
    this.name = name
    this.direction = direction
    const initiator = direction === 'outbound'
    this.#messageFlag = initiator ? MplexFlag.MessageInitiator : MplexFlag.MessageReceiver
    this.#closeFlag = initiator ? MplexFlag.CloseInitiator : MplexFlag.CloseReceiver
    this.#resetFlag = initiator ? MplexFlag.ResetInitiator : MplexFlag.ResetReceiver
  }

  /** We sent Close: no more writes from this side. */
  get localClosed(): boolean {
    return this.#localClosed
  }

  /** The remote sent Close: no more data will arrive. */
  get remoteClosed(): boolean {
    return this.#remoteClosed
  }

  /** Aborts the stream both ways: the remote's reads and writes fail with MplexStreamResetError. */
  reset(): void {
    if (!this.destroyed) this.destroy()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    const writer = this.#ctx.writer
    if (writer.error !== undefined) {
      cb(writer.error)
      return
    }
    this.#send(chunk)
    writer.afterWrite(cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const writer = this.#ctx.writer
    if (writer.error !== undefined) {
      cb(writer.error)
      return
    }
    for (const { chunk } of chunks) this.#send(chunk)
    writer.afterWrite(cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#registered) this.#ctx.writer.writeFrame(this.id, this.#closeFlag)
    this.#localClosed = true
    this.#ctx.onLocalClose(this)
    this.#maybeDone()
    cb()
  }

  override _read(): void {
    this.#ctx.flow.release(this)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.#registered) {
      if (!this.#remoteReset && !(this.#localClosed && this.#remoteClosed)) {
        this.#ctx.writer.writeFrame(this.id, this.#resetFlag)
      }
      this.#unregister()
    }
    this.#ctx.flow.release(this)
    cb(err)
  }

  /** @internal Message data from the remote. */
  receiveData(data: Uint8Array): void {
    if (this.#remoteClosed || this.destroyed || data.length === 0) return
    this.#ctx.flow.afterPush(this, this.push(data))
  }

  /** @internal The remote half-closed the stream. */
  receiveClose(): void {
    if (this.#remoteClosed || this.destroyed) return
    this.#remoteClosed = true
    this.#ctx.flow.release(this)
    this.push(null)
    this.#maybeDone()
  }

  /** @internal The remote reset the stream. */
  receiveReset(): void {
    if (this.destroyed) return
    this.#remoteReset = true
    this.destroy(new MplexStreamResetError(`mplex stream ${this.id} was reset by the remote`))
  }

  /**
   * @internal The connection is gone. With an error, the stream is destroyed with it.
   * Without one, a stream the remote had finished keeps its unread data (writes
   * fail with the writer's error); any other stream was cut short and errors.
   */
  detach(err: Error | undefined): void {
    if (!this.#registered) return
    this.#registered = false
    if (this.destroyed) return
    if (err !== undefined) this.destroy(err)
    else if (!this.#remoteClosed) this.destroy(new MplexConnectionClosedError(`mplex connection closed under stream ${this.id}`))
  }

  #send(chunk: Buffer): void {
    const max = this.#ctx.maxFrameSize
    const writer = this.#ctx.writer
    if (chunk.length <= max) {
      if (chunk.length > 0) writer.writeFrame(this.id, this.#messageFlag, chunk)
      return
    }
    for (let offset = 0; offset < chunk.length; offset += max) {
      writer.writeFrame(this.id, this.#messageFlag, chunk.subarray(offset, offset + max))
    }
  }

  #maybeDone(): void {
    if (this.#registered && this.#localClosed && this.#remoteClosed) this.#unregister()
  }

  #unregister(): void {
    this.#registered = false
    this.#ctx.onDone(this)
  }
}
