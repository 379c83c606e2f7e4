/**
 * Our multistream-select against @libp2p/multistream-select (v7), both roles,
 * over real TCP sockets on 127.0.0.1. Our side uses the net.Socket Duplex
 * directly; the libp2p side gets the same kind of socket wrapped in the
 * benches' libp2p v3 MessageStream adapter (SocketConnection).
 */
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { handle, select } from '@libp2p/multistream-select'
import type { AbstractMessageStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { SocketConnection } from '../../bench/lib/libp2p'
import { mssHandle, mssLs, mssSelect } from '../../src/p2p/multistream'

const sockets: net.Socket[] = []
const serversClosed: Promise<void>[] = []

afterEach(async () => {
  const open = sockets.splice(0)
  await Promise.all(
    open.map(async (s) => {
      if (!s.closed) {
        const closed = once(s, 'close')
        s.destroy()
        await closed
      }
    }),
  )
  // A closed server reports 'close' only once its last connection is gone.
  await Promise.all(serversClosed.splice(0))
})

/** A connected TCP socket pair on 127.0.0.1; the server stops listening right away. */
async function tcpPair(): Promise<[dialer: net.Socket, listener: net.Socket]> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const dialer = net.connect(port, '127.0.0.1')
  sockets.push(dialer)
  const [[listener]] = await Promise.all([accepted, once(dialer, 'connect')])
  sockets.push(listener)
  serversClosed.push(new Promise<void>((resolve) => server.close(() => resolve())))
  return [dialer, listener]
}

/** Reads `n` bytes from a libp2p message stream. */
async function readTheirs(stream: AbstractMessageStream, n: number): Promise<string> {
  const chunks: Uint8Array[] = []
  let got = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    chunks.push(bytes)
    got += bytes.length
    if (got >= n) break
  }
  return Buffer.concat(chunks).toString()
}

/** Reads `n` bytes from a Node stream without destroying it. */
async function readOurs(stream: net.Socket, n: number): Promise<string> {
  const chunks: Buffer[] = []
  let got = 0
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer)
    got += (chunk as Buffer).length
    if (got >= n) break
  }
  return Buffer.concat(chunks).toString()
}

describe('multistream-select interop with @libp2p/multistream-select', () => {
  it('ours dialing theirs: falls through na, then carries data both ways', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(l, 'inbound')
    const [ours, protocol] = await Promise.all([
      mssSelect(d, ['/eth/68/1.0.0', '/eth/67/1.0.0', '/eth/66/1.0.0']),
      handle(theirs, ['/eth/66/1.0.0', '/eth/67/1.0.0']),
    ])
    expect(ours.protocol).toBe('/eth/67/1.0.0')
    expect(protocol).toBe('/eth/67/1.0.0')
    ours.stream.write('ping from ours')
    expect(await readTheirs(theirs, 14)).toBe('ping from ours')
    theirs.send(Buffer.from('pong from theirs'))
    expect(await readOurs(ours.stream, 16)).toBe('pong from theirs')
  })

  it('theirs dialing ours: falls through na, then carries data both ways', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(d, 'outbound')
    const [protocol, ours] = await Promise.all([
      select(theirs, ['/mplex/7.0.0', '/mplex/6.7.0']),
      mssHandle(l, ['/mplex/6.7.0']),
    ])
    expect(protocol).toBe('/mplex/6.7.0')
    expect(ours.protocol).toBe('/mplex/6.7.0')
    // Sent right after selection: may share a segment with nothing else, or be read together.
    theirs.send(Buffer.from('hello ours'))
    expect(await readOurs(ours.stream, 10)).toBe('hello ours')
    ours.stream.write('hello theirs')
    expect(await readTheirs(theirs, 12)).toBe('hello theirs')
  })

  it('theirs dialing ours: data written before our answer arrives is not lost', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(d, 'outbound')
    const handling = mssHandle(l, ['/echo/1.0.0'])
    const protocol = await select(theirs, ['/echo/1.0.0'])
    theirs.send(Buffer.from('one'))
    theirs.send(Buffer.from('two'))
    const ours = await handling
    expect(protocol).toBe('/echo/1.0.0')
    expect(await readOurs(ours.stream, 6)).toBe('onetwo')
  })

  it('ours ls against theirs, then selecting on the same stream', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(l, 'inbound')
    const handling = handle(theirs, ['/a/1.0.0', '/b/2.0.0', '/c/3.0.0'])
    const { protocols } = await mssLs(d)
    expect(protocols).toEqual(['/a/1.0.0', '/b/2.0.0', '/c/3.0.0'])
    const [ours, protocol] = await Promise.all([mssSelect(d, ['/b/2.0.0']), handling])
    expect(ours.protocol).toBe('/b/2.0.0')
    expect(protocol).toBe('/b/2.0.0')
  })

  it('ours dialing theirs: all refused -> ERR_MSS_UNSUPPORTED_PROTOCOL', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(l, 'inbound')
    const handling = handle(theirs, ['/other/1.0.0']).catch((e: unknown) => e)
    await expect(mssSelect(d, ['/x/2', '/x/1'])).rejects.toMatchObject({ code: 'ERR_MSS_UNSUPPORTED_PROTOCOL' })
    expect(d.destroyed).toBe(true)
    expect(await handling).toBeInstanceOf(Error) // our socket was destroyed under it
  })

  it('theirs dialing ours: all refused -> their UnsupportedProtocolError', async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(d, 'outbound')
    const handling = mssHandle(l, ['/other/1.0.0']).catch((e: unknown) => e)
    await expect(select(theirs, ['/x/2', '/x/1'])).rejects.toMatchObject({ name: 'UnsupportedProtocolError' })
    d.destroy()
    expect(await handling).toMatchObject({ code: 'ERR_MSS_STREAM_CLOSED' })
  })

  it("theirs dialing ours with a 1023-byte id (libp2p's longest)", async () => {
    const [d, l] = await tcpPair()
    const theirs = new SocketConnection(d, 'outbound')
    const long = `/${'a'.repeat(1022)}` // 1023 bytes + newline: the largest id libp2p accepts
    const [protocol, ours] = await Promise.all([select(theirs, [long]), mssHandle(l, [long])])
    expect(protocol).toBe(long)
    expect(ours.protocol).toBe(long)
  })
})
