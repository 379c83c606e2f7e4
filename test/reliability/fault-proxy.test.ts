import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaultProxy, type ProxyConnection } from '../utils/fault-proxy'
import { connectRecorded, RecordingServer, resourcesAbove, waitUntil, within, writeFlushed } from '../utils/sockets'

/** The fault proxy's own behaviour: every fault does what it says, per connection, and close() leaves nothing. */

let server: RecordingServer
let proxy: FaultProxy
let baseline: string[]

beforeEach(async () => {
  baseline = process.getActiveResourcesInfo()
  server = await RecordingServer.start({ allowHalfOpen: true })
  proxy = await FaultProxy.start({ target: server.address() })
})

afterEach(async () => {
  await proxy.close()
  await server.close()
})

/** The proxy side of the `index`-th connection, once accepted. */
async function proxied(index = 0): Promise<ProxyConnection> {
  await waitUntil(proxy, ['connection'], () => proxy.connections.length > index, `proxied connection #${index}`)
  return proxy.connections[index]!
}

describe('FaultProxy', () => {
  it('forwards bytes both ways unchanged and forwards a half-close', async () => {
    const client = await connectRecorded(proxy.address(), { allowHalfOpen: true })
    const far = await server.nth(0)
    const up = randomBytes(100_000)
    const down = randomBytes(70_000)
    client.socket.end(up)
    await far.waitForEnd()
    expect(far.received.equals(up)).toBe(true)
    far.socket.end(down)
    await client.waitForEnd()
    expect(client.received.equals(down)).toBe(true)
    const conn = await proxied()
    expect(conn.stats('up')).toMatchObject({ received: up.length, forwarded: up.length, swallowed: 0, flipped: [] })
    expect(conn.stats('down')).toMatchObject({ received: down.length, forwarded: down.length })
  })

  it('delay: holds each chunk in the proxy before forwarding it, keeping order', async () => {
    proxy.setDefaults('up', { delayMs: 50 })
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const conn = await proxied()
    // At the moment the proxy has a chunk, it holds it: the far end has not seen it.
    const heldAtReceipt: boolean[] = []
    conn.on('received', (dir: string, n: number) => {
      if (dir === 'up') heldAtReceipt.push(conn.pending('up') >= n && far.receivedBytes < conn.stats('up').received)
    })
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(3000)]
    for (const p of parts) await writeFlushed(client.socket, p)
    await far.waitForBytes(6000)
    expect(far.received.equals(Buffer.concat(parts))).toBe(true)
    expect(heldAtReceipt.length).toBeGreaterThan(0)
    expect(heldAtReceipt.every(Boolean)).toBe(true)
    expect(conn.stats('up').delayedChunks).toBe(heldAtReceipt.length)
  })

  it('throttle: paces a direction in slices and still delivers every byte in order', async () => {
    const rate = 200_000
    proxy.setDefaults('down', { bytesPerSecond: rate })
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const data = randomBytes(50_000)
    far.socket.write(data)
    await client.waitForBytes(data.length)
    expect(client.received.equals(data)).toBe(true)
    const conn = await proxied()
    // Slices of rate/20 bytes: the data went out in at least that many paced writes.
    expect(conn.stats('down').throttledSlices).toBeGreaterThanOrEqual(Math.ceil(data.length / (rate / 20)))
  })

  it('cut: forwards exactly N bytes of a direction, then ends both sockets', async () => {
    proxy.setDefaults('up', { cutAfterBytes: 1234 })
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const conn = await proxied()
    const cut = new Promise<[string, number]>((resolve) => conn.once('cut', (dir: string, at: number) => resolve([dir, at])))
    const data = randomBytes(5000)
    client.socket.write(data)
    expect(await within(cut, 'cut event')).toEqual(['up', 1234])
    await far.waitForEnd()
    expect(far.received.equals(data.subarray(0, 1234))).toBe(true)
    // The far end is half-open (allowHalfOpen): it saw the FIN; the proxy's sockets are gone.
    await Promise.all([client.waitForClose(), within(conn.whenClosed(), 'proxy connection close')])
  })

  it('cut with reset: both ends see the connection die', async () => {
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const conn = await proxied()
    conn.setFaults('down', { cutAfterBytes: 10, cutMode: 'reset' })
    far.socket.write(randomBytes(100))
    await Promise.all([client.waitForClose(), far.waitForClose()])
    expect(client.receivedBytes).toBeLessThanOrEqual(10)
    expect(conn.closed).toBe(true)
  })

  it('cut set at runtime past the bytes already seen cuts at once', async () => {
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    await writeFlushed(client.socket, randomBytes(300))
    await far.waitForBytes(300)
    const conn = await proxied()
    conn.setFaults('up', { cutAfterBytes: 100 })
    await Promise.all([client.waitForClose(), far.waitForEnd(), within(conn.whenClosed(), 'proxy connection close')])
    expect(far.receivedBytes).toBe(300) // what was forwarded stays forwarded
  })

  it('flip: alters exactly the byte at offset N of a direction and nothing else', async () => {
    proxy.setDefaults('up', { flip: [{ offset: 7 }, { offset: 4000, mask: 0x10 }] })
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const data = randomBytes(10_000)
    // Several writes, so offsets fall inside later chunks too.
    for (let off = 0; off < data.length; off += 999) await writeFlushed(client.socket, data.subarray(off, off + 999))
    await far.waitForBytes(data.length)
    const expected = Buffer.from(data)
    expected[7]! ^= 0xff
    expected[4000]! ^= 0x10
    expect(far.received.equals(expected)).toBe(true)
    expect(data.equals(expected)).toBe(false) // the sender's buffer was not modified in place
    expect((await proxied()).stats('up').flipped).toEqual([7, 4000])
  })

  it('blackhole: swallows a direction while set, keeps both sockets open, and forwards again once cleared', async () => {
    const client = await connectRecorded(proxy.address())
    const far = await server.nth(0)
    const conn = await proxied()
    conn.setFaults('down', { blackhole: true })
    const swallowed = waitUntil(conn, ['swallowed'], () => conn.stats('down').swallowed === 5, 'swallowed bytes')
    far.socket.write('hello')
    await swallowed
    // Up still flows: a round trip through the other direction proves the path is alive.
    await writeFlushed(client.socket, Buffer.from('ping'))
    await far.waitForBytes(4)
    expect(client.receivedBytes).toBe(0)
    expect(client.closed || far.closed).toBe(false)
    conn.setFaults('down', {})
    far.socket.write('world')
    await client.waitForBytes(5)
    expect(client.received.toString()).toBe('world')
  })

  it('applies faults per connection: a flip on one connection leaves another intact', async () => {
    const a = await connectRecorded(proxy.address())
    const farA = await server.nth(0)
    const connA = await proxied(0)
    const b = await connectRecorded(proxy.address())
    const farB = await server.nth(1)
    connA.setFaults('up', { flip: { offset: 0 } })
    const data = randomBytes(64)
    a.socket.write(data)
    b.socket.write(data)
    await Promise.all([farA.waitForBytes(64), farB.waitForBytes(64)])
    expect(farA.received.equals(data)).toBe(false)
    expect(farB.received.equals(data)).toBe(true)
    expect((await proxied(1)).stats('up').flipped).toEqual([])
  })

  it('close() destroys every connection, stops listening and leaves no handle or timer behind', async () => {
    proxy.setDefaults('up', { delayMs: 60_000 }) // a pending delay timer must be cleared too
    const client = await connectRecorded(proxy.address())
    await server.nth(0)
    const conn = await proxied()
    client.socket.write('held')
    await waitUntil(conn, ['received'], () => conn.pending('up') === 4, 'bytes held by the delay')
    const addr = proxy.address()
    await proxy.close()
    await client.waitForClose()
    expect(proxy.open).toEqual([])
    const refused = await new Promise<string | undefined>((resolve) => {
      const s = net.connect(addr.port, addr.host)
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code))
      s.once('connect', () => {
        s.destroy()
        resolve(undefined)
      })
    })
    expect(refused).toBe('ECONNREFUSED')
    await server.close()
    expect(await resourcesAbove(baseline)).toEqual([])
    server = await RecordingServer.start() // for afterEach
  })
})
