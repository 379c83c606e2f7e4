import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DecryptError, EciesError, HandshakeTimeoutError, secureInbound, secureOutbound } from '../../../src/p2p/crypto/index'
import { closed, hex, nodeKey, randomBytes, readBytes, tcpPair, within } from './helpers'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/**
 * An echo server on 127.0.0.1:0 that secures every connection and reports each
 * outcome; `timeoutFor(n)` is the handshake timeout of the n-th accepted connection.
 */
async function echoServer(
  privateKey: Uint8Array,
  timeoutFor: (n: number) => number | undefined,
): Promise<{ port: number; outcomes: Array<Promise<Error | 'ok'>> }> {
  const sockets = new Set<Socket>()
  const outcomes: Array<Promise<Error | 'ok'>> = []
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    outcomes.push(
      secureInbound(socket, { privateKey, timeoutMs: timeoutFor(outcomes.length) }).then(
        ({ stream }) => {
          stream.on('error', () => {})
          stream.pipe(stream)
          return 'ok' as const
        },
        (err: Error) => err,
      ),
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, outcomes }
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  cleanup.push(() => socket.destroy())
  await once(socket, 'connect')
  return socket
}

describe('secure channel over TCP on 127.0.0.1', () => {
  it('handshakes and carries 1 MiB each way byte-exact', async () => {
    const a = nodeKey()
    const b = nodeKey()
    const { client, server, close } = await tcpPair()
    cleanup.push(close)
    const [out, inb] = await within(
      Promise.all([secureOutbound(client, { privateKey: a.privateKey, remoteId: b.id }), secureInbound(server, { privateKey: b.privateKey })]),
      10_000,
      'handshake',
    )
    cleanup.push(() => out.stream.destroy(), () => inb.stream.destroy())
    expect(hex(inb.remoteId)).toBe(hex(a.id))
    const ab = randomBytes(1024 * 1024)
    const ba = randomBytes(1024 * 1024 + 3)
    out.stream.write(ab)
    inb.stream.write(ba)
    const [gotB, gotA] = await within(Promise.all([readBytes(inb.stream, ab.length), readBytes(out.stream, ba.length)]), 20_000, 'data')
    expect(gotB.equals(ab)).toBe(true)
    expect(gotA.equals(ba)).toBe(true)
    out.stream.end()
    inb.stream.end()
    out.stream.resume()
    inb.stream.resume()
    await within(Promise.all([closed(out.stream), closed(inb.stream), once(client, 'close')]), 5000, 'close')
    expect(client.destroyed).toBe(true)
  })

  it('keeps the bytes of a first frame sent in the same TCP write as the ack', async () => {
    const a = nodeKey()
    const b = nodeKey()
    const { client, server, close } = await tcpPair()
    cleanup.push(close)
    server.cork()
    const outbound = secureOutbound(client, { privateKey: a.privateKey, remoteId: b.id })
    const inb = await within(secureInbound(server, { privateKey: b.privateKey }), 10_000, 'inbound')
    inb.stream.write('right behind the ack')
    process.nextTick(() => server.uncork())
    const out = await within(outbound, 10_000, 'outbound')
    cleanup.push(() => out.stream.destroy(), () => inb.stream.destroy())
    expect((await within(readBytes(out.stream, 20), 5000, 'early frame')).toString()).toBe('right behind the ack')
  })

  it('a listener rejects junk and a stalled handshake with typed errors and goes on serving', async () => {
    const b = nodeKey()
    // only the stalled connection (the second) gets a short deadline
    const { port, outcomes } = await echoServer(b.privateKey, (n) => (n === 1 ? 300 : undefined))

    const junk = await dial(port)
    junk.on('error', () => {})
    junk.write(Buffer.concat([Buffer.from([0x01, 0x40]), randomBytes(320)]))
    const stalled = await dial(port)
    stalled.on('error', () => {})
    stalled.write(Buffer.from([0x01]))

    const a = nodeKey()
    const good = await dial(port)
    const { stream, remoteId } = await within(secureOutbound(good, { privateKey: a.privateKey, remoteId: b.id }), 10_000, 'good dial')
    cleanup.push(() => stream.destroy())
    expect(hex(remoteId)).toBe(hex(b.id))
    const payload = randomBytes(300_000)
    stream.write(payload)
    expect((await within(readBytes(stream, payload.length), 10_000, 'echo')).equals(payload)).toBe(true)

    const results = await within(Promise.all(outcomes), 10_000, 'outcomes')
    expect(results[0]).toBeInstanceOf(DecryptError)
    expect(results[1]).toBeInstanceOf(HandshakeTimeoutError)
    expect(results[2]).toBe('ok')
    for (const r of results.slice(0, 2)) expect((r as EciesError).code).toMatch(/^ERR_ECIES_/)
    await within(Promise.all([closed(junk), closed(stalled)]), 5000, 'bad sockets closed by the server')
  })
})
