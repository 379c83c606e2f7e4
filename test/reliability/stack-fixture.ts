import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import * as secp from '@noble/secp256k1'
import {
  type Connection,
  readMessages,
  Registrar,
  Transport,
  type TransportListener,
  Upgrader,
  type UpgraderOptions,
  writeMessage,
} from '../../src/p2p/index'
import { waitForEvent } from '../../src/p2p/util/events'
import { WAIT_TIMEOUT_MS } from '../utils/sockets'

/**
 * Two-node fixtures over the real stack (TCP, ECIES, multistream-select,
 * mplex) for the fault-injection tests, and a checked echo protocol: every
 * message carries a sequence number and a SHA-256 of itself, so a corrupted
 * message and a message delivered twice are both detected at the receiver.
 */

export const CHECKED_ECHO = '/h11/checked-echo/1.0.0'

export interface StackNode {
  id: Uint8Array
  registrar: Registrar
  upgrader: Upgrader
  transport: Transport
}

export function stackNode(opts: Partial<Omit<UpgraderOptions, 'registrar' | 'privateKey'>> = {}): StackNode {
  const privateKey = secp.utils.randomSecretKey()
  const registrar = new Registrar()
  const upgrader = new Upgrader({ ...opts, privateKey, registrar })
  return { id: upgrader.localId, registrar, upgrader, transport: new Transport({ upgrader }) }
}

export async function listenOn(node: StackNode): Promise<{ listener: TransportListener; inbound: Connection[]; errors: Error[] }> {
  const listener = node.transport.createListener()
  const inbound: Connection[] = []
  const errors: Error[] = []
  listener.on('connection', (c: Connection) => inbound.push(c))
  listener.on('error', (err: Error) => errors.push(err))
  await listener.listen({ host: '127.0.0.1', port: 0 })
  return { listener, inbound, errors }
}

/** `seq (4 bytes) || body || sha256(seq || body)`. */
export function checkedMessage(seq: number, bodyLength: number): Uint8Array {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(seq)
  const body = randomBytes(bodyLength)
  const digest = createHash('sha256').update(head).update(body).digest()
  return Buffer.concat([head, body, digest])
}

/** The sequence number of an intact message, or undefined if it fails its checksum. */
export function verifyMessage(msg: Uint8Array): number | undefined {
  if (msg.length < 36) return undefined
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength)
  const digest = createHash('sha256').update(b.subarray(0, b.length - 32)).digest()
  if (!digest.equals(b.subarray(b.length - 32))) return undefined
  return b.readUInt32BE(0)
}

/** What the server side of the checked echo saw, over all its streams. */
export class EchoLedger {
  /** Intact messages, by `stream key/seq`. */
  readonly seen = new Map<string, number>()
  corrupt = 0
  duplicates = 0
  streamErrors: Error[] = []

  get intact(): number {
    return this.seen.size
  }
}

/** Registers the checked echo on `node`: each intact message is recorded and sent back. */
export function serveCheckedEcho(node: StackNode, ledger: EchoLedger): void {
  let streams = 0
  node.registrar.handle(CHECKED_ECHO, async (stream) => {
    const key = `${++streams}`
    stream.on('error', (err: Error) => ledger.streamErrors.push(err))
    try {
      for await (const msg of readMessages(stream)) {
        const seq = verifyMessage(msg)
        if (seq === undefined) {
          ledger.corrupt++
          continue
        }
        const k = `${key}/${seq}`
        if (ledger.seen.has(k)) ledger.duplicates++
        ledger.seen.set(k, (ledger.seen.get(k) ?? 0) + 1)
        writeMessage(stream, msg)
      }
      stream.end()
    } catch (err) {
      ledger.streamErrors.push(err as Error)
    }
  })
}

/**
 * Client side of the checked echo on one stream: `roundTrip` sends a message
 * and resolves with the echoed one, verified; it rejects with whatever ends
 * the stream first.
 */
export class EchoClient {
  private readonly replies: AsyncGenerator<Uint8Array, void, undefined>
  private seq = 0
  readonly received = new Set<number>()
  corrupt = 0
  duplicates = 0

  constructor(readonly stream: Duplex) {
    this.replies = readMessages(stream)
  }

  /** Sends message `seq` (body of `bodyLength` bytes) and waits for its echo. */
  async roundTrip(bodyLength = 1000): Promise<number> {
    const seq = ++this.seq
    writeMessage(this.stream, checkedMessage(seq, bodyLength))
    const next = await this.replies.next()
    if (next.done === true) throw new Error(`stream ended before the echo of message ${seq}`)
    const got = verifyMessage(next.value)
    if (got === undefined) {
      this.corrupt++
      throw new Error(`echo of message ${seq} failed its checksum`)
    }
    if (this.received.has(got)) this.duplicates++
    this.received.add(got)
    if (got !== seq) throw new Error(`expected the echo of ${seq}, got ${got}`)
    return got
  }
}

/** Resolves with the reason of a connection's 'close' (undefined for a clean close). */
export function closeReasonOf(conn: Connection): Promise<Error | undefined> {
  if (conn.status === 'closed') return Promise.resolve(conn.closeReason)
  return waitForEvent<[Error | undefined]>(conn, 'close', { timeoutMs: WAIT_TIMEOUT_MS }).then(([reason]) => reason)
}

/** The first error in `err`'s cause chain with `code`, if any. */
export function causeWithCode(err: unknown, code: string): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return e
  }
  return undefined
}
