import { afterEach, describe, expect, it } from 'vitest'

import { Chain } from '../../../src/client/blockchain/chain'
import { ClientError, ClientStateError, Config, EthereumClient, Event, EventBus, FullEthereumService, P2PServer, StreamEthProtocol } from '../../../src/client'
import { enodeId, nextPeer, resourceCounts, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

const clients: EthereumClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

describe('EthereumClient', () => {
  it('runs the seed usage: create, open, start, stop', async () => {
    const common = testCommon()
    const config = new Config({ common, port: 0, bindAddress: '127.0.0.1', maxPeers: 25 })
    const client = await EthereumClient.create({ config })
    clients.push(client)
    expect(client.config).toBe(config)
    expect(client.chain).toBeInstanceOf(Chain)
    expect(client.service.pool.size).toBe(0)
    expect(client.state).toBe('created')
    await client.open()
    expect(client.state).toBe('opened')
    expect(client.chain.genesis.header.number).toBe(0n)
    const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
    await client.start()
    expect(client.state).toBe('started')
    const [{ url }] = await listening
    expect(url).toBe(client.server.url)
    await client.stop()
    expect(client.state).toBe('stopped')
  })

  it('stop is idempotent, emits CLIENT_SHUTDOWN once, and the client cannot restart', async () => {
    const { client } = await startNode()
    clients.push(client)
    let shutdowns = 0
    const onShutdown = () => shutdowns++
    client.config.events.on(Event.CLIENT_SHUTDOWN, onShutdown)
    await Promise.all([client.stop(), client.stop()])
    await client.stop()
    expect(shutdowns).toBe(1)
    await expect(client.start()).rejects.toBeInstanceOf(ClientStateError)
    client.config.events.off(Event.CLIENT_SHUTDOWN, onShutdown)
  })

  it('can be stopped before it was opened', async () => {
    const client = await EthereumClient.create({ config: new Config({ common: testCommon(), port: 0 }) })
    await client.stop()
    expect(client.state).toBe('stopped')
  })

  it('releases every socket, timer and bus listener on stop, also with a peer connected', async () => {
    const before = resourceCounts()
    const a = await startNode()
    const b = await startNode({ bootnodes: [a.url] })
    await nextPeer(b.client, enodeId(a.url))
    await Promise.all([a.client.stop(), b.client.stop()])
    const after = resourceCounts()
    for (const [kind, n] of after) expect({ kind, n }).toEqual({ kind, n: Math.min(n, before.get(kind) ?? 0) })
    expect(a.client.config.events.totalListenerCount()).toBe(0)
    expect(b.client.config.events.totalListenerCount()).toBe(0)
  })

  it('runs on the P2P stack with useP2PServer: true', async () => {
    const config = new Config({ common: testCommon(), useP2PServer: true, port: 0, bindAddress: '127.0.0.1' })
    const client = await EthereumClient.create({ config })
    clients.push(client)
    const listening = config.events.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS })
    await client.open()
    await client.start()
    const [details] = await listening
    expect(details.transport).toBe('p2p')
    expect(details.url).toMatch(/^enode:\/\/[0-9a-f]{128}@127\.0\.0\.1:\d+\?discport=\d+$/)
    expect(client.server).toBeInstanceOf(P2PServer)
    expect(client.service).toBeInstanceOf(FullEthereumService)
    expect(client.service.protocols.map((p) => p.constructor)).toEqual([StreamEthProtocol])
    await client.stop()
  })
})

describe('EventBus', () => {
  it('delivers typed events to on/once listeners and stops after off', () => {
    const bus = new EventBus()
    const seen: string[] = []
    const on = (d: { transport: string; url: string }) => seen.push(`on:${d.url}`)
    bus.on(Event.SERVER_LISTENING, on)
    bus.once(Event.SERVER_LISTENING, (d) => seen.push(`once:${d.url}`))
    bus.emit(Event.SERVER_LISTENING, { transport: 'rlpx', url: 'u1' })
    bus.emit(Event.SERVER_LISTENING, { transport: 'rlpx', url: 'u2' })
    bus.off(Event.SERVER_LISTENING, on)
    bus.emit(Event.SERVER_LISTENING, { transport: 'rlpx', url: 'u3' })
    expect(seen).toEqual(['on:u1', 'once:u1', 'on:u2'])
    expect(bus.totalListenerCount()).toBe(0)
  })

  it('waitFor resolves with the first matching event and cleans up', async () => {
    const bus = new EventBus()
    const waiting = bus.waitFor(Event.SERVER_LISTENING, { timeoutMs: WAIT_MS, filter: (d) => d.url === 'b' })
    bus.emit(Event.SERVER_LISTENING, { transport: 'rlpx', url: 'a' })
    bus.emit(Event.SERVER_LISTENING, { transport: 'p2p', url: 'b' })
    expect(await waiting).toEqual([{ transport: 'p2p', url: 'b' }])
    expect(bus.totalListenerCount()).toBe(0)
  })

  it('waitFor rejects with ERR_EVENT_TIMEOUT and removes its listener', async () => {
    const bus = new EventBus()
    const err = await bus.waitFor(Event.CLIENT_SHUTDOWN, { timeoutMs: 1 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect((err as ClientError).code).toBe('ERR_EVENT_TIMEOUT')
    expect(bus.listenerCount(Event.CLIENT_SHUTDOWN)).toBe(0)
  })
})
