import { once } from 'node:events'
import { connect, createServer } from 'node:net'

import { bytesToUnprefixedHex } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { Config, EthereumClient, Event, RlpxServer, ServerError, parseEnode } from '../../../src/client'

import { enodeId, enodeTcpPort, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS, collect } from '../helpers/waits'

import type { AddressInfo, Socket } from 'node:net'
import type { Peer } from '../../../src/client'

const clients: EthereumClient[] = []
const sockets: Socket[] = []

const stops: (() => void)[] = []

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

async function node(opts: Parameters<typeof startNode>[0] = {}): Promise<{ client: EthereumClient; url: string }> {
  const n = await startNode(opts)
  clients.push(n.client)
  return n
}

function rawConnect(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1')
  sockets.push(s)
  s.on('error', () => {}) // the server closing on us is what these tests provoke
  return once(s, 'connect').then(() => s)
}

describe('RlpxServer', () => {
  it('reports the ports it actually bound for port 0 in SERVER_LISTENING and url', async () => {
    const config = new Config({ common: testCommon(), port: 0, bindAddress: '127.0.0.1' })
    const client = await EthereumClient.create({ config })
    clients.push(client)
    const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
    await client.start()
    const [details] = await listening
    expect(details.transport).toBe('rlpx')
    expect(details.url).toBe(config.server.url)
    const enode = parseEnode(details.url)
    if (typeof enode === 'string') throw new Error(enode)
    expect(enode.idHex).toBe(bytesToUnprefixedHex(config.nodeId))
    expect(enode.ip).toBe('127.0.0.1')
    expect(enode.tcpPort).toBeGreaterThan(0)
    expect(enode.udpPort).toBeGreaterThan(0)
    // The TCP port really accepts connections.
    await rawConnect(enode.tcpPort)
  })

  it('start and stop are idempotent; stop before start is a no-op', async () => {
    const config = new Config({ common: testCommon(), port: 0, bindAddress: '127.0.0.1' })
    const server = config.server
    await server.stop()
    const client = await EthereumClient.create({ config })
    clients.push(client)
    const listening = collect(config.events, Event.SERVER_LISTENING)
    stops.push(listening.stop)
    await client.open()
    await Promise.all([server.start(), server.start()])
    await server.start()
    expect(server.started).toBe(true)
    expect(listening.items).toHaveLength(1)
    await Promise.all([server.stop(), server.stop()])
    expect(server.started).toBe(false)
    await server.stop()
  })

  it('fails to start with a ServerError when the port is taken, and holds nothing afterwards', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as AddressInfo).port
    try {
      const config = new Config({ common: testCommon(), port, discPort: 0, bindAddress: '127.0.0.1' })
      const client = await EthereumClient.create({ config })
      clients.push(client)
      const err = await client.start().then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(ServerError)
      expect((err as ServerError).code).toBe('ERR_SERVER_START')
      expect((err as Error).message).toMatch(/EADDRINUSE/)
      expect(config.server.started).toBe(false)
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  it('without discovery, dials bootnodes directly', async () => {
    const a = await node({ discV4: false })
    expect(a.url).toMatch(/\?discport=0$/)
    const b = await node({ discV4: false, bootnodes: [a.url] })
    const peer = await nextPeer(b.client, enodeId(a.url))
    expect(peer.inbound).toBe(false)
    expect(peer.address).toBe(`127.0.0.1:${enodeTcpPort(a.url)}`)
  })

  it('closes a connection that does not finish its handshake in time', async () => {
    const a = await node({ discV4: false, handshakeTimeoutMs: 100 })
    const tcpPort = enodeTcpPort(a.url)
    const silent = await rawConnect(tcpPort)
    await once(silent, 'close')
    expect(silent.destroyed).toBe(true)
  })

  it('refuses inbound connections beyond maxPeers', async () => {
    const a = await node({ discV4: false, maxPeers: 1 })
    const tcpPort = enodeTcpPort(a.url)
    const first = await rawConnect(tcpPort)
    const second = await rawConnect(tcpPort)
    await once(second, 'close')
    expect(first.destroyed).toBe(false)
  })

  it('ban() disconnects the peer and refuses it afterwards', async () => {
    const a = await node({ discV4: false })
    const b = await node({ discV4: false, bootnodes: [a.url] })
    const toA = await nextPeer(b.client, enodeId(a.url))
    const gone = b.client.config.events.waitFor(Event.PEER_DISCONNECTED, { timeoutMs: WAIT_MS })
    a.client.config.server.ban(enodeId(b.url), 60_000)
    const [peer, reason] = await gone
    expect(peer).toBe(toA)
    expect(reason).toBe('useless peer (0x03)')
    expect(a.client.config.server.isBanned(enodeId(b.url))).toBe(true)
    expect(a.client.service.pool.size).toBe(0)
  })

  it('a third node finds the second through the bootnode, and the bootnode keeps to maxPeers', async () => {
    const boot = await node({ maxPeers: 1 })
    const connectedAtBoot = collect<[Peer]>(boot.client.config.events, Event.PEER_CONNECTED)
    stops.push(connectedAtBoot.stop)
    const b = await node({ bootnodes: [boot.url] })
    await nextPeer(b.client, enodeId(boot.url))
    const c = await node({ bootnodes: [boot.url] })
    // C never gets a slot at the bootnode, but learns B from it (discv4 neighbours) and connects.
    const cToB = await nextPeer(c.client, enodeId(b.url))
    expect(cToB.id).toBe(enodeId(b.url))
    expect(connectedAtBoot.items.map(([p]) => p.id)).toEqual([enodeId(b.url)])
    expect((boot.client.config.server as RlpxServer).peers).toHaveLength(1)
    expect(c.client.service.pool.contains(enodeId(boot.url))).toBe(false)
  })
})
