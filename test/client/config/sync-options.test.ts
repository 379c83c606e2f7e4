import { describe, expect, it } from 'vitest'

import {
  Config,
  DEFAULT_MAX_KNOWN_BLOCKS,
  DEFAULT_MAX_KNOWN_TXS,
  DEFAULT_SYNC_BODY_BATCH,
  DEFAULT_SYNC_HEADER_BATCH,
  DEFAULT_SYNC_MAX_BLOCKS_AHEAD,
  DEFAULT_SYNC_MAX_FORK_DEPTH,
  DEFAULT_SYNC_RECEIPT_BATCH,
  DEFAULT_SYNC_REQUESTS_PER_PEER,
  DEFAULT_TX_ANNOUNCEMENTS_PER_PEER,
  DEFAULT_TX_FETCH_BATCH,
  DEFAULT_TX_FETCH_TIMEOUT_MS,
  type ConfigOptions,
} from '../../../src/client/config'
import { ConfigError } from '../../../src/client/errors'
import { testCommon } from '../helpers/nodes'

describe('Config: sync, propagation and block production options', () => {
  it('applies the documented defaults (geth figures where geth has one)', () => {
    const c = new Config({ common: testCommon() })
    expect(c.sync).toBe(true)
    expect(c.devPeriod).toBe(0)
    expect([c.syncHeaderBatch, c.syncBodyBatch, c.syncReceiptBatch]).toEqual([DEFAULT_SYNC_HEADER_BATCH, DEFAULT_SYNC_BODY_BATCH, DEFAULT_SYNC_RECEIPT_BATCH])
    expect([DEFAULT_SYNC_HEADER_BATCH, DEFAULT_SYNC_BODY_BATCH, DEFAULT_SYNC_RECEIPT_BATCH]).toEqual([192, 128, 256])
    expect(c.syncRequestsPerPeer).toBe(DEFAULT_SYNC_REQUESTS_PER_PEER)
    expect(c.syncMaxBlocksAhead).toBe(DEFAULT_SYNC_MAX_BLOCKS_AHEAD)
    expect(c.syncMaxForkDepth).toBe(DEFAULT_SYNC_MAX_FORK_DEPTH)
    expect(c.txAnnouncementsPerPeer).toBe(DEFAULT_TX_ANNOUNCEMENTS_PER_PEER)
    expect(DEFAULT_TX_ANNOUNCEMENTS_PER_PEER).toBe(4096)
    expect(c.txFetchBatch).toBe(DEFAULT_TX_FETCH_BATCH)
    expect(c.txFetchTimeoutMs).toBe(DEFAULT_TX_FETCH_TIMEOUT_MS)
    expect(c.maxKnownBlocks).toBe(DEFAULT_MAX_KNOWN_BLOCKS)
    expect(c.maxKnownTxs).toBe(DEFAULT_MAX_KNOWN_TXS)
  })

  it('takes fractional dev periods (seconds) and sync off', () => {
    const c = new Config({ common: testCommon(), devPeriod: 0.25, sync: false })
    expect(c.devPeriod).toBe(0.25)
    expect(c.sync).toBe(false)
  })

  it.each<[keyof ConfigOptions, unknown]>([
    ['devPeriod', -1],
    ['devPeriod', Number.POSITIVE_INFINITY],
    ['devPeriod', 3_000_000],
    ['sync', 'yes'],
    ['syncHeaderBatch', 0],
    ['syncHeaderBatch', 1025],
    ['syncBodyBatch', 1025],
    ['syncReceiptBatch', 0.5],
    ['syncRequestsPerPeer', 0],
    ['syncMaxBlocksAhead', 0],
    ['syncMaxForkDepth', 0],
    ['txAnnouncementsPerPeer', 0],
    ['txFetchBatch', 2000],
    ['txFetchTimeoutMs', 0],
    ['maxKnownBlocks', 0],
    ['maxKnownTxs', -5],
  ])('rejects %s = %s with a ConfigError naming it', (option, value) => {
    let err: unknown
    try {
      new Config({ common: testCommon(), [option]: value } as ConfigOptions)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).option).toBe(option)
  })
})
