import { EthCode } from '../../net/protocol/ethmessages'

import { formatBytes, renderTable, shortHex } from './format'

import type { MessageCounts, NodeSnapshot } from './stats'

/** Message names in wire-code order, so every table lists them the same way. */
const NAME_ORDER = Object.entries(EthCode)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name)

function total(counts: MessageCounts): number {
  let n = 0
  for (const v of counts.values()) n += v
  return n
}

/** Per node: peers, connections, open streams, discovery, bytes, message totals, errors, pool, head. */
export function formatStatsTable(rows: readonly NodeSnapshot[]): string[] {
  const header = ['node', 'transport', 'peers', 'conns', 'streams', 'discovered', 'bytes in', 'bytes out', 'msgs in', 'msgs out', 'errors', 'pool', 'head']
  const numeric = [false, false, true, true, true, true, true, true, true, true, true, true, false]
  const body = rows.map((r) => [
    r.label,
    r.transport,
    String(r.peers),
    String(r.connections),
    r.streams === undefined ? '-' : String(r.streams),
    String(r.discovered),
    formatBytes(r.bytesIn),
    formatBytes(r.bytesOut),
    String(total(r.messagesIn)),
    String(total(r.messagesOut)),
    String(r.errors),
    String(r.pool),
    `#${r.height} ${shortHex(r.headHash)}`,
  ])
  return renderTable(header, body, numeric)
}

/** Per node and eth message type: `in/out`; only the types that occurred get a column. */
export function formatMessagesTable(rows: readonly NodeSnapshot[]): string[] {
  const seen = new Set<string>()
  for (const r of rows) for (const name of [...r.messagesIn.keys(), ...r.messagesOut.keys()]) seen.add(name)
  const names = [...NAME_ORDER.filter((n) => seen.has(n)), ...[...seen].filter((n) => !NAME_ORDER.includes(n)).sort()]
  if (names.length === 0) return ['(no eth messages exchanged)']
  const header = ['node (in/out)', ...names]
  const numeric = [false, ...names.map(() => true)]
  const body = rows.map((r) => [r.label, ...names.map((n) => `${r.messagesIn.get(n) ?? 0}/${r.messagesOut.get(n) ?? 0}`)])
  return renderTable(header, body, numeric)
}

/** Compact one-node status for the monitoring line: `node2 2p 2s #64 1a2b3c4d pool 0 12.3 KiB/4.5 KiB`. */
export function formatStatusEntry(r: NodeSnapshot): string {
  const streams = r.streams === undefined ? '' : ` ${r.streams}s`
  return `${r.label} ${r.peers}p${streams} #${r.height} ${shortHex(r.headHash)} pool ${r.pool} ${formatBytes(r.bytesIn)}/${formatBytes(r.bytesOut)}`
}

/** Per node: every peer with its reputation score, `node1: node2 +3.0, node3 +2.0`. */
export function formatPeerScores(rows: readonly NodeSnapshot[]): string[] {
  return rows.map((r) => {
    const peers = [...r.peerScores].sort((a, b) => a.peer.localeCompare(b.peer)).map((p) => `${p.peer} ${p.score >= 0 ? '+' : ''}${p.score.toFixed(1)}`)
    return `${r.label}: ${peers.length === 0 ? '(no peers)' : peers.join(', ')}`
  })
}
