import { getPublicKey } from '@noble/secp256k1'
import { bytesToUnprefixedHex } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import {
  Config,
  ConfigError,
  DEFAULT_BAN_TIME_MS,
  DEFAULT_BIND_ADDRESS,
  DEFAULT_CHAIN_ID,
  DEFAULT_DIAL_BACKOFF_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_DISCOVERY_REFRESH_MS,
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  DEFAULT_EXT_IP,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_SERVE_ITEMS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_REDIAL_BACKOFF_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RESPONSE_SOFT_LIMIT,
  DEFAULT_SERVE_CONCURRENCY,
  DEFAULT_MAX_CONCURRENT_DIALS,
  DEFAULT_MAX_QUEUED_REQUESTS,
  DEFAULT_STATUS_TIMEOUT_MS,
  DEFAULT_TX_POOL_MAX_SIZE,
  DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS,
  DEFAULT_ETH_VERSIONS,
  DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE,
  DEFAULT_MAX_RECEIPT_CONTINUATIONS,
  P2PServer,
  RlpxServer,
  parseEnode,
} from '../../../src/client'
import { MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_RECEIPTS_SERVE } from '../../../src/client/blockchain/chain'
import { MAX_SERVE_ITEMS } from '../../../src/client/config'
import { testCommon } from '../helpers/nodes'

const ID = 'a'.repeat(128)
const GOOD_ENODE = `enode://${ID}@10.0.0.1:30303?discport=30301`

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('Config defaults', () => {
  it('applies every documented default', () => {
    const c = new Config({ common: testCommon() })
    expect(c.useP2PServer).toBe(false)
    expect(c.port).toBe(DEFAULT_PORT)
    expect(c.port).toBe(30303)
    expect(c.discPort).toBe(DEFAULT_PORT)
    expect(c.bindAddress).toBe(DEFAULT_BIND_ADDRESS)
    expect(c.extIP).toBe(DEFAULT_EXT_IP)
    expect(c.bootnodes).toEqual([])
    expect(c.maxPeers).toBe(DEFAULT_MAX_PEERS)
    expect(c.discV4).toBe(true)
    expect(c.requestTimeoutMs).toBe(DEFAULT_REQUEST_TIMEOUT_MS)
    expect(c.requestTimeoutMs).toBe(8000)
    expect(c.statusTimeoutMs).toBe(DEFAULT_STATUS_TIMEOUT_MS)
    expect(c.statusTimeoutMs).toBe(10000)
    expect(c.handshakeTimeoutMs).toBe(DEFAULT_HANDSHAKE_TIMEOUT_MS)
    expect(c.dialTimeoutMs).toBe(DEFAULT_DIAL_TIMEOUT_MS)
    expect(c.pingTimeoutMs).toBe(DEFAULT_PING_TIMEOUT_MS)
    expect(c.dialBackoffMs).toBe(DEFAULT_DIAL_BACKOFF_MS)
    expect(c.redialBackoffMs).toBe(DEFAULT_REDIAL_BACKOFF_MS)
    expect(c.discoveryTimeoutMs).toBe(DEFAULT_DISCOVERY_TIMEOUT_MS)
    expect(c.discoveryRefreshMs).toBe(DEFAULT_DISCOVERY_REFRESH_MS)
    expect(c.maxMessageSize).toBe(DEFAULT_MAX_MESSAGE_SIZE)
    expect(c.maxMessageSize).toBe(10 * 1024 * 1024)
    expect(c.banTimeMs).toBe(DEFAULT_BAN_TIME_MS)
    expect(c.maxServeItems).toBe(DEFAULT_MAX_SERVE_ITEMS)
    expect(c.responseSoftLimit).toBe(DEFAULT_RESPONSE_SOFT_LIMIT)
    expect(c.serveConcurrency).toBe(DEFAULT_SERVE_CONCURRENCY)
    expect(c.maxConcurrentDials).toBe(DEFAULT_MAX_CONCURRENT_DIALS)
    expect(c.maxQueuedRequests).toBe(DEFAULT_MAX_QUEUED_REQUESTS)
    expect(c.txPoolMaxSize).toBe(DEFAULT_TX_POOL_MAX_SIZE)
    expect(c.ethVersions).toEqual(DEFAULT_ETH_VERSIONS)
    expect(c.ethVersions).toEqual([70, 69, 68, 67, 66])
    expect(c.blockRangeUpdateIntervalMs).toBe(DEFAULT_BLOCK_RANGE_UPDATE_INTERVAL_MS)
    expect(c.blockRangeUpdateIntervalMs).toBe(1000)
    expect(c.maxBlockRangeUpdatesPerMinute).toBe(DEFAULT_MAX_BLOCK_RANGE_UPDATES_PER_MINUTE)
    expect(c.maxReceiptContinuations).toBe(DEFAULT_MAX_RECEIPT_CONTINUATIONS)
  })

  it('keeps the offered eth versions highest first, whatever order they are given in', () => {
    expect(new Config({ common: testCommon(), ethVersions: [66, 70, 68] }).ethVersions).toEqual([70, 68, 66])
    expect(new Config({ common: testCommon(), ethVersions: [68] }).ethVersions).toEqual([68])
  })

  it('defaults the chain to the custom test chain', () => {
    expect(new Config().common.chainId()).toBe(BigInt(DEFAULT_CHAIN_ID))
  })

  it('defaults discPort to port', () => {
    expect(new Config({ common: testCommon(), port: 31000 }).discPort).toBe(31000)
    expect(new Config({ common: testCommon(), port: 31000, discPort: 32000 }).discPort).toBe(32000)
  })

  it('generates a random key per config and derives the node id from it', () => {
    const a = new Config({ common: testCommon() })
    const b = new Config({ common: testCommon() })
    expect(a.key).toHaveLength(32)
    expect(bytesToUnprefixedHex(a.key)).not.toBe(bytesToUnprefixedHex(b.key))
    expect(a.nodeId).toHaveLength(64)
    expect(a.nodeId).toEqual(getPublicKey(a.key, false).subarray(1))
  })

  it('keeps a given key', () => {
    const key = new Uint8Array(32).fill(7)
    expect(new Config({ common: testCommon(), key }).key).toEqual(key)
  })

  it('parses bootnodes', () => {
    const c = new Config({ common: testCommon(), bootnodes: [GOOD_ENODE, `enode://${ID}@10.0.0.2:30305`] })
    expect(c.bootnodes.map((b) => [b.idHex, b.ip, b.tcpPort, b.udpPort])).toEqual([
      [ID, '10.0.0.1', 30303, 30301],
      [ID, '10.0.0.2', 30305, 30305],
    ])
  })
})

describe('Config validation names the option', () => {
  it.each([
    ['not a url'],
    [`enode://${'a'.repeat(127)}@10.0.0.1:30303`],
    [`enode://${'g'.repeat(128)}@10.0.0.1:30303`],
    [`enode://${ID}@10.0.0.1`],
    [`enode://${ID}@10.0.0.1:70000`],
    [`enode://${ID}@10.0.0.1:0`],
    [`enode://${ID}@10.0.0.1:30303?discport=99999`],
    [`enode://${ID}@10.0.0.1:30303?discport=-1`],
    [`enode://${ID}@example.com:30303`],
    [`enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjz`],
  ])('rejects bootnode %s', (url) => {
    const err = configError(() => new Config({ common: testCommon(), bootnodes: [GOOD_ENODE, url] }))
    expect(err.option).toBe('bootnodes')
    expect(err.code).toBe('ERR_CONFIG_INVALID')
    expect(err.message).toContain('"bootnodes"')
    expect(err.message).toContain(url)
  })

  it.each([[-1], [65536], [1.5], [Number.NaN]])('rejects port %s', (port) => {
    const err = configError(() => new Config({ common: testCommon(), port }))
    expect(err.option).toBe('port')
    expect(err.message).toContain('"port"')
  })

  it('rejects discPort out of range', () => {
    expect(configError(() => new Config({ common: testCommon(), discPort: 70000 })).option).toBe('discPort')
  })

  it.each([[0], [-3], [2.5]])('rejects maxPeers %s', (maxPeers) => {
    const err = configError(() => new Config({ common: testCommon(), maxPeers }))
    expect(err.option).toBe('maxPeers')
    expect(err.message).toContain('"maxPeers"')
  })

  it.each([[[]], [[65]], [[71]], [[70, 70]], [[68.5]]])('rejects ethVersions %j', (ethVersions) => {
    const err = configError(() => new Config({ common: testCommon(), ethVersions }))
    expect(err.option).toBe('ethVersions')
  })

  it.each([
    ['blockRangeUpdateIntervalMs', -1],
    ['maxBlockRangeUpdatesPerMinute', 0],
    ['maxReceiptContinuations', -1],
  ] as const)('rejects %s %i', (option, value) => {
    expect(configError(() => new Config({ common: testCommon(), [option]: value })).option).toBe(option)
  })

  it('accepts maxPeers 1', () => {
    expect(new Config({ common: testCommon(), maxPeers: 1 }).maxPeers).toBe(1)
  })

  it('rejects a key of the wrong length or outside the curve order', () => {
    expect(configError(() => new Config({ common: testCommon(), key: new Uint8Array(31).fill(1) })).option).toBe('key')
    expect(configError(() => new Config({ common: testCommon(), key: new Uint8Array(32) })).option).toBe('key')
    expect(configError(() => new Config({ common: testCommon(), key: new Uint8Array(32).fill(0xff) })).option).toBe('key')
  })

  it('rejects addresses that are not IPv4', () => {
    expect(configError(() => new Config({ common: testCommon(), extIP: 'localhost' })).option).toBe('extIP')
    expect(configError(() => new Config({ common: testCommon(), bindAddress: '::1' })).option).toBe('bindAddress')
  })

  it.each([
    ['requestTimeoutMs'],
    ['statusTimeoutMs'],
    ['handshakeTimeoutMs'],
    ['dialTimeoutMs'],
    ['pingTimeoutMs'],
    ['discoveryTimeoutMs'],
    ['maxMessageSize'],
    ['banTimeMs'],
    ['maxServeItems'],
    ['responseSoftLimit'],
    ['serveConcurrency'],
    ['maxConcurrentDials'],
    ['maxQueuedRequests'],
    ['txPoolMaxSize'],
  ] as const)('rejects %s = 0', (option) => {
    expect(configError(() => new Config({ common: testCommon(), [option]: 0 })).option).toBe(option)
  })

  it.each([['dialBackoffMs'], ['redialBackoffMs']] as const)('accepts %s = 0 (no backoff) but not a negative one', (option) => {
    expect(new Config({ common: testCommon(), [option]: 0 })[option]).toBe(0)
    expect(configError(() => new Config({ common: testCommon(), [option]: -1 })).option).toBe(option)
  })

  it('caps maxServeItems at MAX_SERVE_ITEMS (geth\'s fixed serve limits, which the chain applies to every reply)', () => {
    expect(MAX_SERVE_ITEMS).toBe(1024)
    expect(MAX_SERVE_ITEMS).toBe(Math.min(MAX_HEADERS_SERVE, MAX_BODIES_SERVE, MAX_RECEIPTS_SERVE))
    expect(new Config({ common: testCommon(), maxServeItems: MAX_SERVE_ITEMS }).maxServeItems).toBe(MAX_SERVE_ITEMS)
    const err = configError(() => new Config({ common: testCommon(), maxServeItems: MAX_SERVE_ITEMS + 1 }))
    expect(err.option).toBe('maxServeItems')
    expect(err.message).toMatch(/1025 is above 1024/)
  })

  it('rejects a discovery refresh period devp2p would turn into a busy loop', () => {
    expect(configError(() => new Config({ common: testCommon(), discoveryRefreshMs: 9 })).option).toBe('discoveryRefreshMs')
  })
})

describe('config.server', () => {
  it('is one RlpxServer by default, created on first use', () => {
    const c = new Config({ common: testCommon() })
    expect(c.server).toBeInstanceOf(RlpxServer)
    expect(c.server).toBe(c.server)
    expect(c.server.started).toBe(false)
  })

  it('selects the server with useP2PServer', () => {
    const p2p = new Config({ common: testCommon(), useP2PServer: true })
    expect(p2p.useP2PServer).toBe(true)
    expect(p2p.server).toBeInstanceOf(P2PServer)
    expect(p2p.server.name).toBe('p2p')
    const legacy = new Config({ common: testCommon() })
    expect(legacy.useP2PServer).toBe(false)
    expect(legacy.server).toBeInstanceOf(RlpxServer)
  })
})

describe('parseEnode', () => {
  it('round-trips the URL the server prints', () => {
    const parsed = parseEnode(GOOD_ENODE)
    expect(typeof parsed).toBe('object')
    if (typeof parsed === 'string') return
    expect(parsed.id).toHaveLength(64)
    expect(parsed.udpPort).toBe(30301)
  })
})
