import type { Socket } from 'node:net'
import { ECIES } from '@ethereumjs/devp2p'
import * as secp from '@noble/secp256k1'

/**
 * Drives @ethereumjs/devp2p's ECIES class over a socket, through its public
 * methods, as the remote end of interop tests. (devp2p's own Peer wraps this
 * class in its Hello/capability protocol, which this channel does not speak.)
 */

/**
 * devp2p's ECIES with access to the two flags its Peer class sets when it sees
 * an EIP-8 auth/ack: parseAuthEIP8 / parseAckEIP8 only accept EIP-8 bodies
 * once the matching flag is on. This subclass is the one place that touches
 * those protected internals.
 */
class Devp2pEcies extends ECIES {
  constructor(privateKey: Uint8Array, remoteId: Uint8Array | null) {
    // devp2p accepts null for "remote not known yet" (the responder) despite its type
    super(privateKey, secp.getPublicKey(privateKey, false).subarray(1), remoteId as Uint8Array)
  }

  expectEip8Auth(): void {
    this._gotEIP8Auth = true
  }

  expectEip8Ack(): void {
    this._gotEIP8Ack = true
  }
}

/** Exact-length reads over a socket's 'data' events. */
class SocketReader {
  #buf = Buffer.alloc(0)
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined
  #ended: Error | undefined

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      this.#serve()
    })
    const end = (): void => {
      this.#ended = new Error('socket ended')
      this.#want?.reject(this.#ended)
      this.#want = undefined
    }
    socket.on('end', end)
    socket.on('close', end)
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject }
      this.#serve()
      if (this.#want !== undefined && this.#ended !== undefined) reject(this.#ended)
    })
  }

  #serve(): void {
    const w = this.#want
    if (w === undefined || this.#buf.length < w.n) return
    this.#want = undefined
    const out = this.#buf.subarray(0, w.n)
    this.#buf = this.#buf.subarray(w.n)
    w.resolve(out)
  }
}

export class Devp2pPeer {
  readonly #socket: Socket
  readonly #reader: SocketReader
  #ecies: Devp2pEcies
  readonly #privateKey: Uint8Array
  readonly #remoteId: Uint8Array | null

  constructor(socket: Socket, privateKey: Uint8Array, remoteId: Uint8Array | null) {
    this.#socket = socket
    this.#reader = new SocketReader(socket)
    this.#privateKey = privateKey
    this.#remoteId = remoteId
    this.#ecies = new Devp2pEcies(privateKey, remoteId)
  }

  /** Initiator: sends an EIP-8 auth, or a legacy one, and reads the ack in the format it comes. */
  async initiate(format: 'eip8' | 'legacy'): Promise<void> {
    this.#socket.write(format === 'eip8' ? this.#ecies.createAuthEIP8()! : this.#legacyAuth())
    const first = await this.#reader.read(2)
    if (first[0] === 0x04) {
      // pre-EIP-8 ack: fixed 210 bytes
      const rest = await this.#reader.read(210 - 2)
      this.#ecies.parseAckPlain(Buffer.concat([first, rest]))
      return
    }
    const body = await this.#reader.read(first.readUInt16BE(0))
    this.#ecies.expectEip8Ack()
    this.#ecies.parseAckEIP8(Buffer.concat([first, body]))
  }

  /**
   * Recipient: reads an EIP-8 auth and answers with an EIP-8 ack, or a legacy
   * one; `firstFrame` goes out in the same socket write, right behind the ack.
   */
  async respond(ack: 'eip8' | 'legacy', firstFrame?: Uint8Array): Promise<void> {
    const prefix = await this.#reader.read(2)
    const body = await this.#reader.read(prefix.readUInt16BE(0))
    this.#ecies.expectEip8Auth()
    this.#ecies.parseAuthEIP8(Buffer.concat([prefix, body]))
    const packet = ack === 'eip8' ? this.#ecies.createAckEIP8()! : this.#ecies.createAckOld()!
    this.#socket.write(firstFrame === undefined ? packet : Buffer.concat([packet, this.frame(firstFrame)]))
  }

  /** Raw frame bytes for `data` (header + header MAC + padded body + body MAC). */
  frame(data: Uint8Array): Buffer {
    return Buffer.concat([this.#ecies.createBlockHeader(data.length)!, this.#ecies.createBody(data)!])
  }

  /** Just a frame header announcing `size` bytes. */
  header(size: number): Uint8Array {
    return this.#ecies.createBlockHeader(size)!
  }

  sendFrame(data: Uint8Array): void {
    this.#socket.write(this.frame(data))
  }

  async readFrame(): Promise<Uint8Array> {
    const size = this.#ecies.parseHeader(await this.#reader.read(32))!
    return this.#ecies.parseBody(await this.#reader.read(Math.ceil(size / 16) * 16 + 16))!
  }

  /** Reads frames until `n` body bytes arrived (our side frames freely). */
  async readBytes(n: number): Promise<Buffer> {
    const parts: Uint8Array[] = []
    let got = 0
    while (got < n) {
      const body = await this.readFrame()
      parts.push(body)
      got += body.length
    }
    return Buffer.concat(parts)
  }

  /**
   * A pre-EIP-8 auth. devp2p's createAuthNonEIP8 writes r and s without
   * left-padding, so about 1 in 128 signatures makes a short, invalid packet;
   * start over with a fresh ephemeral key until the packet has the fixed size.
   */
  #legacyAuth(): Uint8Array {
    for (;;) {
      const auth = this.#ecies.createAuthNonEIP8()!
      if (auth.length === 307) return auth
      this.#ecies = new Devp2pEcies(this.#privateKey, this.#remoteId)
    }
  }
}
