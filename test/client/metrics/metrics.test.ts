/**
 * The node's Prometheus metrics, read over HTTP as a scrape reads them, with
 * real nodes connected on 127.0.0.1; the exposition is checked by the real
 * `promtool`, and a real Prometheus server scrapes a running node.
 */
import { readFile } from 'node:fs/promises'

import { afterEach, describe, expect, it } from 'vitest'

import { Config, EthereumClient } from '../../../src/client'
import { MessageTally } from '../../../src/client/metrics/tally'
import { NO_METER } from '../../../src/client/net/protocol/meter'
import { enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { promtoolCheckExpressions, promtoolCheckMetrics, queryUntil, startPrometheus, toolAvailable } from '../../utils/prometheus'

import type { PrometheusServer } from '../../utils/prometheus'

const clients: EthereumClient[] = []
let prometheus: PrometheusServer | undefined

afterEach(async () => {
  await prometheus?.stop()
  prometheus = undefined
  await Promise.all(clients.splice(0).map((c) => c.stop()))
})

async function scrape(client: EthereumClient): Promise<string> {
  const res = await fetch(client.metrics!.server.url)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

/** The value of series `name{labels}` in an exposition (labels matched as a subset), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4])
  }
  return undefined
}

function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/** A hub with metrics and two nodes that dial it. */
async function hubWithTwoPeers(useP2PServer: boolean): Promise<{ hub: EthereumClient; peers: EthereumClient[] }> {
  const common = testCommon()
  const hub = await startNode({ common, useP2PServer, metricsPort: 0, discV4: false })
  clients.push(hub.client)
  const peers: EthereumClient[] = []
  for (let i = 0; i < 2; i++) {
    const joined = nextPeer(hub.client)
    const node = await startNode({ common, useP2PServer, metricsPort: 0, discV4: false, bootnodes: [hub.url] })
    clients.push(node.client)
    peers.push(node.client)
    await joined
  }
  return { hub: hub.client, peers }
}

describe('metrics', () => {
  it('is off without metricsPort: no tally, no listener', async () => {
    const { client } = await startNode({ common: testCommon() })
    clients.push(client)
    expect(client.metrics).toBeUndefined()
    expect(client.config.tally).toBeUndefined()
    expect(client.config.meter).toBe(NO_METER)
  })

  for (const useP2PServer of [true, false]) {
    const path = useP2PServer ? 'P2P' : 'RLPx'
    it(`${path}: counts peers, messages, requests and bytes as they happen`, async () => {
      const { hub, peers } = await hubWithTwoPeers(useP2PServer)
      const transport = useP2PServer ? 'p2p' : 'rlpx'
      let text = await scrape(hub)
      expect(sample(text, 'p2p_peers', { direction: 'inbound', transport })).toBe(2)
      expect(total(text, 'p2p_peers')).toBe(2)
      expect(sample(text, 'p2p_connections', { multiplexer: useP2PServer ? '/mplex/6.7.0' : 'rlpx' })).toBe(2)
      if (useP2PServer) expect(sample(text, 'p2p_streams', { protocol: '/eth/70/1.0.0' })).toBe(2)
      const servedBefore = sample(text, 'eth_messages_total', { direction: 'outbound', message: 'BlockHeaders' }) ?? 0

      const asker = peers[0]!
      const toHub = asker.service.pool.peers.find((p) => p.id === enodeId(hub.server.url))!
      for (let i = 0; i < 3; i++) await toHub.eth!.getBlockHeaders({ block: 0n, max: 1 })

      text = await scrape(hub)
      expect(sample(text, 'eth_messages_total', { direction: 'inbound', version: '70', message: 'GetBlockHeaders' })).toBe(3)
      expect(sample(text, 'eth_messages_total', { direction: 'outbound', version: '70', message: 'BlockHeaders' })).toBe(servedBefore + 3)
      expect(total(text, 'eth_messages_total', { message: 'Status' })).toBe(4)
      expect(sample(text, 'p2p_ingress_bytes_total')).toBeGreaterThan(0)
      expect(sample(text, 'p2p_egress_bytes_total')).toBeGreaterThan(0)
      const headerBytes = sample(text, 'eth_message_bytes_total', { direction: 'outbound', message: 'BlockHeaders' })
      // eth/69+ travel through our own codec on both paths, so message sizes are known on both.
      expect(headerBytes).toBeGreaterThan(3 * 500)
      if (useP2PServer) expect(sample(text, 'p2p_handshake_duration_seconds_count')).toBe(2)

      const mine = await scrape(asker)
      expect(sample(mine, 'eth_request_duration_seconds_count', { message: 'GetBlockHeaders' })).toBe(3)
      expect(sample(mine, 'eth_requests_total', { message: 'GetBlockHeaders', outcome: 'answered' })).toBe(3)
      expect(sample(mine, 'p2p_reputation_events_total', { event: 'served' })).toBe(3)
      expect(sample(mine, 'p2p_peer_score_count')).toBe(1)
      expect(sample(mine, 'chain_head_block')).toBe(0)
      expect(sample(mine, 'txpool_transactions')).toBe(0)
      expect(sample(mine, 'sync_syncing')).toBe(0)
      expect(sample(mine, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    })
  }

  it('serves only GET /metrics', async () => {
    const { client } = await startNode({ common: testCommon(), metricsPort: 0 })
    clients.push(client)
    const base = client.metrics!.server.url
    expect((await fetch(base.replace('/metrics', '/other'))).status).toBe(404)
    const post = await fetch(base, { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it('refuses a metrics port in use at start, leaving nothing open', async () => {
    const first = await startNode({ common: testCommon(), metricsPort: 0 })
    clients.push(first.client)
    const port = Number(new URL(first.client.metrics!.server.url).port)
    const config = new Config({ common: testCommon(), port: 0, discPort: 0, bindAddress: '127.0.0.1', metricsPort: port })
    const second = await EthereumClient.create({ config })
    await expect(second.start()).rejects.toMatchObject({ code: 'ERR_ENDPOINT_LISTEN' })
    expect(second.server.started).toBe(false)
    await second.stop()
  })

  it('tallies messages in preallocated arrays, by direction, version and code', () => {
    const tally = new MessageTally()
    tally.message('inbound', 68, 0x03, 40)
    tally.message('inbound', 68, 0x03, 41)
    tally.message('outbound', 68, 0x04, 600)
    const counts = [...tally.messageCounts()]
    expect(counts.map((c) => [c.direction, c.version, c.messages[c.direction === 'inbound' ? 3 : 4], c.bytes[c.direction === 'inbound' ? 3 : 4]])).toEqual([
      ['inbound', 68, 2, 81],
      ['outbound', 68, 1, 600],
    ])
    tally.request('GetBlockHeaders', 'answered', 0.002)
    tally.request('GetBlockHeaders', 'timeout', 8)
    expect([...tally.requestOutcomes()]).toEqual([
      { name: 'GetBlockHeaders', outcome: 'answered', count: 1 },
      { name: 'GetBlockHeaders', outcome: 'timeout', count: 1 },
    ])
    expect(tally.takeSamples()).toEqual([{ name: 'GetBlockHeaders', seconds: 0.002 }])
    expect(tally.takeSamples()).toEqual([])
  })
})

describe.skipIf(!toolAvailable('promtool'))('metrics checked by promtool', () => {
  it('passes `promtool check metrics` with peers connected and traffic counted', async () => {
    const { hub, peers } = await hubWithTwoPeers(true)
    const toHub = peers[0]!.service.pool.peers[0]!
    await toHub.eth!.getBlockHeaders({ block: 0n, max: 1 })
    const text = await scrape(hub)
    const { status, output } = promtoolCheckMetrics(text)
    expect(output).toBe('')
    expect(status).toBe(0)
  })

  it('docs/grafana-dashboard.json: every query is valid PromQL over metrics the node exports', async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] }
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*')))
    expect(dashboard.panels.map((p) => p.title)).toEqual(expect.arrayContaining(['Peers', 'Traffic', 'Chain and sync', 'Request latency', 'Errors and bans']))
    const checked = await promtoolCheckExpressions(exprs)
    expect(checked.output).toMatch(/SUCCESS/)
    expect(checked.status).toBe(0)
    const { client } = await startNode({ common: testCommon(), metricsPort: 0 })
    clients.push(client)
    const exported = new Set((await scrape(client)).split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!))
    const FUNCTIONS = new Set(['sum', 'by', 'rate', 'histogram_quantile', 'max', 'le'])
    for (const expr of exprs) {
      for (const name of expr.match(/\b[a-z][a-z0-9_]*_[a-z0-9_]+\b/g) ?? []) {
        if (FUNCTIONS.has(name)) continue
        const base = name.replace(/_(bucket|sum|count)$/, '')
        expect(exported.has(name) || exported.has(base), `${name} in "${expr}"`).toBe(true)
      }
    }
  })
})

describe.skipIf(!toolAvailable('prometheus'))('a real Prometheus server', () => {
  it('scrapes a running node and answers a PromQL query for p2p_peers', async () => {
    const { hub } = await hubWithTwoPeers(true)
    const target = new URL(hub.metrics!.server.url).host
    prometheus = await startPrometheus(target, 1)
    const result = await queryUntil(prometheus, 'sum(p2p_peers)', (s) => s.length === 1 && Number(s[0]!.value[1]) === 2)
    expect(Number(result[0]!.value[1])).toBe(2)
    const byLabel = await queryUntil(prometheus, 'p2p_peers{direction="inbound",transport="p2p"}', (s) => s.length === 1)
    expect(byLabel[0]!.metric).toMatchObject({ job: 'ethp2p', instance: target, direction: 'inbound', transport: 'p2p' })
    expect(Number(byLabel[0]!.value[1])).toBe(2)
    const targets = await prometheus.api('targets')
    const active = (targets.data as { activeTargets: { health: string; lastError: string }[] }).activeTargets
    expect(active.map((t) => [t.health, t.lastError])).toEqual([['up', '']])
  })
})
