import { describe, expect, it } from 'vitest'

import { formatBytes, formatDuration, renderTable, timestamp } from '../../../src/client/bin/network/format'
import { formatMessagesTable, formatPeerScores, formatStatsTable, formatStatusEntry } from '../../../src/client/bin/network/table'

import type { NodeSnapshot } from '../../../src/client/bin/network/stats'

function snapshot(over: Partial<NodeSnapshot>): NodeSnapshot {
  return {
    label: 'node1',
    transport: 'p2p',
    peers: 2,
    connections: 2,
    streams: 2,
    discovered: 2,
    bytesIn: 4096,
    bytesOut: 31_334,
    messagesIn: new Map(),
    messagesOut: new Map(),
    errors: 0,
    height: 64n,
    headHash: 'a4aa138a' + '0'.repeat(56),
    peerScores: [],
    pool: 3,
    ...over,
  }
}

describe('formatting helpers', () => {
  it('formats bytes, durations and timestamps', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(10 * 1024 * 1024)).toBe('10.0 MiB')
    expect(formatBytes(-1)).toBe('-')
    expect(formatDuration(56.4)).toBe('56 ms')
    expect(formatDuration(1234)).toBe('1.2 s')
    expect(timestamp(new Date(2024, 0, 1, 9, 5, 3, 7))).toBe('09:05:03.007')
  })

  it('aligns columns: text left, numbers right, a rule under the header', () => {
    const lines = renderTable(['name', 'n'], [['a', '1'], ['long name', '12345']], [false, true])
    expect(lines).toEqual(['name           n', '---------  -----', 'a              1', 'long name  12345'])
  })
})

describe('statistics table', () => {
  it('has one row per node with peers, connections, streams, bytes, message totals, pool and head', () => {
    const rows = [
      snapshot({ messagesIn: new Map([['Status', 2], ['GetBlockHeaders', 4]]), messagesOut: new Map([['Status', 2], ['BlockHeaders', 4]]) }),
      snapshot({ label: 'node2', transport: 'rlpx', peers: 1, connections: 1, streams: undefined, bytesIn: 16_000, bytesOut: 900, errors: 3 }),
    ]
    const lines = formatStatsTable(rows)
    expect(lines[0]).toMatch(/^node\s+transport\s+peers\s+conns\s+streams\s+discovered\s+bytes in\s+bytes out\s+msgs in\s+msgs out\s+errors\s+pool\s+head$/)
    expect(lines[1]).toMatch(/^-+( +-+)+$/)
    expect(lines[2]).toMatch(/^node1\s+p2p\s+2\s+2\s+2\s+2\s+4\.0 KiB\s+30\.6 KiB\s+6\s+6\s+0\s+3\s+#64 a4aa138a$/)
    // RLPx has no streams: a dash, not 0.
    expect(lines[3]).toMatch(/^node2\s+rlpx\s+1\s+1\s+-\s+2\s+15\.6 KiB\s+900 B\s+0\s+0\s+3\s+3\s+#64 a4aa138a$/)
    // Right-aligned numeric columns end where their header ends.
    const end = (col: string) => lines[0]!.indexOf(col) + col.length
    expect(lines[2]!.slice(0, end('peers')).endsWith('2')).toBe(true)
    expect(lines[3]!.slice(0, end('streams')).endsWith('-')).toBe(true)
  })

  it('lists only message types that occurred, in wire-code order, as received/sent', () => {
    const rows = [
      snapshot({ messagesIn: new Map([['GetBlockBodies', 2], ['Status', 2]]), messagesOut: new Map([['BlockBodies', 2], ['Status', 2]]) }),
      snapshot({ label: 'node2', messagesIn: new Map([['BlockBodies', 1], ['Status', 1]]), messagesOut: new Map([['GetBlockBodies', 1], ['Status', 1]]) }),
    ]
    const lines = formatMessagesTable(rows)
    expect(lines[0]).toMatch(/^node \(in\/out\)\s+Status\s+GetBlockBodies\s+BlockBodies$/)
    expect(lines[2]).toMatch(/^node1\s+2\/2\s+2\/0\s+0\/2$/)
    expect(lines[3]).toMatch(/^node2\s+1\/1\s+0\/1\s+1\/0$/)
    expect(formatMessagesTable([snapshot({})])).toEqual(['(no eth messages exchanged)'])
  })

  it('condenses a node into a status-line entry: peers, streams, head, pool, bytes', () => {
    expect(formatStatusEntry(snapshot({}))).toBe('node1 2p 2s #64 a4aa138a pool 3 4.0 KiB/30.6 KiB')
    expect(formatStatusEntry(snapshot({ streams: undefined, peers: 1, pool: 0 }))).toBe('node1 1p #64 a4aa138a pool 0 4.0 KiB/30.6 KiB')
  })
})

describe('peer scores', () => {
  it('lists each node\'s peers with their signed score, sorted by peer', () => {
    const rows = [
      snapshot({ peerScores: [{ peer: 'node3', score: -6 }, { peer: 'node2', score: 3.25 }] }),
      snapshot({ label: 'node2', peerScores: [] }),
    ]
    expect(formatPeerScores(rows)).toEqual(['node1: node2 +3.3, node3 -6.0', 'node2: (no peers)'])
  })
})
