/**
 * The checks of a run, one function per phase. Each records its results in
 * the CheckList and returns whether the run can go on.
 */
import { MPLEX_PROTOCOL_ID, RLPX_MULTIPLEXER } from '../../../p2p'
import { P2PPeer } from '../../net/peer/p2ppeer'
import { FIRST_RANGE_STATUS_VERSION } from '../../net/protocol/ethstatus'
import { Event } from '../../types'
import { describeError } from '../../errors'

import { InterruptedError } from './errors'
import { formatDuration, plural, shortHex } from './format'
import { NETWORK_LABEL } from './network'
import { busTrigger, waitForCondition } from './waits'

import type { NetworkOptions } from './args'
import type { CheckList } from './checks'
import type { NetworkLogger } from './logger'
import type { LocalNetwork, StopReport } from './network'
import type { TestNode } from './node'

export interface PhaseContext {
  net: LocalNetwork
  options: NetworkOptions
  checks: CheckList
  log: NetworkLogger
  signal?: AbortSignal
}

/** Rethrows an interruption so the run stops at once; anything else is a failed check. */
export function rethrowInterrupt(err: unknown): void {
  if (err instanceof InterruptedError) throw err
}

/** Starts the bootnode, then the others from its enode URL. Check: every node listening. */
export async function startNetwork(ctx: PhaseContext): Promise<boolean> {
  const name = 'all nodes listening'
  let bootUrl: string
  try {
    bootUrl = await ctx.net.startBootnode(ctx.signal)
  } catch (err) {
    rethrowInterrupt(err)
    ctx.checks.fail(name, `node1 (bootnode) did not start: ${describeError(err)}`)
    return false
  }
  const results = await ctx.net.startOthers(bootUrl, ctx.signal)
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`node${i + 2}: ${describeError(r.reason)}`] : []))
  if (ctx.signal?.aborted === true) throw new InterruptedError('the nodes to start')
  if (failed.length > 0) {
    ctx.checks.fail(name, failed.join('; '))
    return false
  }
  const kinds: string[] = ctx.net.nodes.map((n) => (n.config.useP2PServer ? 'P2P' : 'RLPx'))
  const counts = ['P2P', 'RLPx'].flatMap((k) => (kinds.includes(k) ? [`${kinds.filter((x) => x === k).length} ${k}`] : []))
  ctx.checks.pass(name, `${counts.join(' + ')} nodes, bootnode ${shortHex(ctx.net.bootnode.id)} at ${bootUrl.split('@')[1]}`)
  return true
}

/** Check: every non-boot node has at least one peer (Status exchanged), within the timeout. */
export async function awaitFirstPeers(ctx: PhaseContext): Promise<boolean> {
  const results = await Promise.allSettled(
    ctx.net.others.map((node) =>
      waitForCondition({
        what: `${node.label} to connect to a peer`,
        timeoutMs: ctx.options.timeoutMs,
        signal: ctx.signal,
        condition: () => node.peers.length > 0,
        trigger: busTrigger([node.config.events], [Event.PEER_CONNECTED]),
      }),
    ),
  )
  let ok = true
  results.forEach((r, i) => {
    const node = ctx.net.others[i] as TestNode
    if (r.status === 'rejected') rethrowInterrupt(r.reason)
    if (r.status === 'fulfilled') ctx.checks.pass(`${node.label} has a peer`, peerList(ctx.net, node))
    else ctx.checks.fail(`${node.label} has a peer`, describeError(r.reason))
    ok &&= r.status === 'fulfilled'
  })
  return ok
}

function peerList(net: LocalNetwork, node: TestNode): string {
  const names = node.peers.map((p) => `${net.names.name(p.id)} (${p.inbound ? 'in' : 'out'}, eth/${p.eth?.version ?? '-'})`)
  return `${plural(node.peers.length, 'peer')}: ${names.join(', ')}`
}

/**
 * Check (advisory unless --require-mesh): every node reaches min(maxPeers, N-1)
 * peers, i.e. the non-boot nodes found each other through discovery.
 */
export async function awaitMesh(ctx: PhaseContext): Promise<void> {
  const { net, options } = ctx
  const want = Math.min(options.maxPeers, options.nodes - 1)
  const name = `mesh of ${plural(want, 'peer')} per node`
  const short = (): string[] => net.nodes.filter((n) => n.peers.length < want).map((n) => `${n.label} has ${n.peers.length}`)
  const started = Date.now()
  try {
    await waitForCondition({
      what: `a mesh of ${want} peers per node`,
      timeoutMs: options.timeoutMs,
      signal: ctx.signal,
      condition: () => short().length === 0,
      trigger: busTrigger(net.nodes.map((n) => n.config.events), [Event.PEER_CONNECTED, Event.PEER_DISCONNECTED]),
    })
    ctx.checks.pass(name, `reached in ${formatDuration(Date.now() - started)} (discovery through the bootnode)`)
  } catch (err) {
    rethrowInterrupt(err)
    const detail = `not reached within ${formatDuration(options.timeoutMs)}: ${short().join(', ')}`
    ctx.checks.add(name, false, detail, options.requireMesh ? 'required' : 'advisory')
  }
}

/**
 * Check per non-boot node: its own synchronizer brought it to node 1's head (node 1 keeps
 * producing, so "the head" is node 1's at that moment) and it counts itself synchronized.
 */
export async function awaitSynced(ctx: PhaseContext): Promise<void> {
  const boot = ctx.net.bootnode
  const outcomes = await Promise.allSettled(ctx.net.others.map((node) => syncedOne(ctx, boot, node)))
  // Recorded in node order (not completion order), so runs compare line by line.
  outcomes.forEach((r, i) => {
    const name = `${(ctx.net.others[i] as TestNode).label} synced`
    if (r.status === 'rejected') rethrowInterrupt(r.reason)
    ctx.checks.add(name, r.status === 'fulfilled', r.status === 'fulfilled' ? r.value : describeError(r.reason))
  })
}

async function syncedOne(ctx: PhaseContext, boot: TestNode, node: TestNode): Promise<string> {
  const started = Date.now()
  await waitForCondition({
    what: `${node.label} to reach ${boot.label}'s head and count itself synchronized`,
    timeoutMs: ctx.options.timeoutMs,
    signal: ctx.signal,
    condition: () => node.head.hash === boot.head.hash && node.client.synchronizer.synchronized,
    trigger: busTrigger([node.config.events, boot.config.events], [Event.CHAIN_UPDATED, Event.SYNC_SYNCHRONIZED]),
  })
  const stats = [...node.client.synchronizer.stats]
  const sum = (k: 'headers' | 'bodies' | 'receipts'): number => stats.reduce((n, [, s]) => n + s[k], 0)
  const from = stats.map(([id]) => ctx.net.names.name(id)).join(', ')
  return `at ${boot.label}'s head #${node.head.height} in ${formatDuration(Date.now() - started)}: ${sum('headers')} headers, ${sum('bodies')} bodies, ${sum('receipts')} receipt lists fetched, verified and executed, from ${from || 'nobody'}`
}

/**
 * Check: every node follows node 1: each reaches the head node 1 had when the check began
 * (at or above --blocks), and a node at that height holds that very block. Node 1 keeps
 * producing meanwhile, and eth/69+ heads are announced at most once per
 * blockRangeUpdateIntervalMs, so "every node at node 1's head at the same instant" is not
 * what following means; reaching where node 1 was, on its chain, is.
 */
export async function awaitHeadsEqual(ctx: PhaseContext): Promise<void> {
  const { net, options } = ctx
  const heads = (): string => net.nodes.map((n) => `${n.label} #${n.head.height} ${shortHex(n.head.hash)}`).join(', ')
  const target = { ...net.bootnode.head }
  const reached = (): boolean =>
    target.height >= BigInt(options.blocks) &&
    net.nodes.every((n) => n.head.height > target.height || (n.head.height === target.height && n.head.hash === target.hash))
  try {
    await waitForCondition({
      what: `every node at node1's head #${target.height} ${shortHex(target.hash)} or past it`,
      timeoutMs: options.timeoutMs,
      signal: ctx.signal,
      condition: reached,
      trigger: busTrigger(net.nodes.map((n) => n.config.events), [Event.CHAIN_UPDATED]),
    })
    ctx.checks.pass('heads follow node1', `all at node1's #${target.height} ${shortHex(target.hash)} or past it: ${heads()}`)
  } catch (err) {
    rethrowInterrupt(err)
    ctx.checks.fail('heads follow node1', `${describeError(err)}: ${heads()}`)
  }
  ctx.log.log(NETWORK_LABEL, 'check', `heads: ${heads()}`)
}

/**
 * Check: every session runs the highest eth version the nodes offer (all
 * offer the same list, so that is the one the negotiation must pick): by
 * default eth/70 between every pair, eth/68 under `--eth 68`.
 */
export function checkVersions(ctx: PhaseContext): void {
  const { net, options } = ctx
  const want = Math.max(...options.ethVersions)
  const sessions: string[] = []
  const wrong: string[] = []
  for (const node of net.nodes) {
    for (const peer of node.peers) {
      const pair = `${node.label}-${net.names.name(peer.id)}`
      sessions.push(pair)
      if (peer.eth?.version !== want) wrong.push(`${pair} eth/${peer.eth?.version ?? '-'}`)
    }
  }
  const name = `eth/${want} on every session`
  if (sessions.length === 0) ctx.checks.fail(name, 'no sessions')
  else if (wrong.length > 0) ctx.checks.fail(name, `expected eth/${want}: ${wrong.join(', ')}`)
  else ctx.checks.pass(name, `${plural(sessions.length, 'session end')}: ${sessions.join(', ')}`)
}

/** A producing node may be one block ahead of what its last BlockRangeUpdate said. */
const RANGE_LAG_BLOCKS = 1n

/**
 * Check (--mixed only): on a P2P node, a session with the RlpxServer node is
 * carried by RLPx (`Connection.multiplexer` 'rlpx'), one with another P2P
 * node by mplex; the RlpxServer node's sessions are all devp2p RLPx.
 */
export function checkCarriers(ctx: PhaseContext): void {
  if (!ctx.options.mixed) return
  const { net } = ctx
  const byId = new Map(net.nodes.map((n) => [n.id, n]))
  const seen: string[] = []
  const wrong: string[] = []
  for (const node of net.nodes) {
    for (const peer of node.peers) {
      const remote = byId.get(peer.id)
      if (remote === undefined) continue
      const carrier = peer instanceof P2PPeer ? peer.connection.multiplexer : 'devp2p'
      const want = !node.config.useP2PServer ? 'devp2p' : remote.config.useP2PServer ? MPLEX_PROTOCOL_ID : RLPX_MULTIPLEXER
      const pair = `${node.label}-${remote.label} ${carrier}`
      seen.push(pair)
      if (carrier !== want) wrong.push(`${pair} (expected ${want})`)
    }
  }
  const name = 'RLPx with the RlpxServer node, mplex between P2P nodes'
  if (wrong.length > 0) ctx.checks.fail(name, wrong.join(', '))
  else if (!seen.some((s) => s.endsWith(RLPX_MULTIPLEXER))) ctx.checks.fail(name, `no P2P node has a session with the RlpxServer node: ${seen.join(', ')}`)
  else ctx.checks.pass(name, seen.join(', '))
}

/**
 * Check (eth/69+ only): every node knows each peer's served block range to
 * within one block of that peer's head. A node announces its range whenever
 * its head moves (at most once per `blockRangeUpdateIntervalMs`), so after the
 * sync the bootnode must have had a BlockRangeUpdate from each synced node,
 * and a producing node's peers follow it block by block; a session opened
 * later carried the range in its Status.
 */
export async function awaitBlockRanges(ctx: PhaseContext): Promise<void> {
  const { net, options } = ctx
  if (Math.max(...options.ethVersions) < FIRST_RANGE_STATUS_VERSION) return
  const byId = new Map(net.nodes.map((n) => [n.id, n]))
  const stale = (): string[] =>
    net.nodes.flatMap((node) =>
      node.peers.flatMap((p) => {
        const remote = byId.get(p.id)
        if (remote === undefined) return []
        const known = p.blockRange?.latestBlock ?? -1n
        if (remote.head.height - known <= RANGE_LAG_BLOCKS) return []
        return [`${node.label} sees ${remote.label} at #${known} (head #${remote.head.height})`]
      }),
    )
  const name = "peers' block ranges current"
  try {
    await waitForCondition({
      what: "every peer's block range to follow its head",
      timeoutMs: options.timeoutMs,
      signal: ctx.signal,
      condition: () => stale().length === 0,
      trigger: busTrigger(net.nodes.map((n) => n.config.events), [Event.PROTOCOL_MESSAGE, Event.PEER_CONNECTED]),
    })
    let updates = 0
    for (const s of net.stats) for (const counts of s.inbound.values()) updates += counts.get('BlockRangeUpdate') ?? 0
    ctx.checks.pass(name, `every session knows its peer's range (Status, then ${plural(updates, 'BlockRangeUpdate')} received)`)
  } catch (err) {
    rethrowInterrupt(err)
    ctx.checks.fail(name, stale().join(', '))
  }
}

/** Check: every client stopped within the timeout and left no listener on its bus. */
export function recordShutdown(ctx: PhaseContext, report: StopReport): void {
  const leaks = [...report.leftoverListeners].map(([label, n]) => `${label} left ${plural(n, 'bus listener')}`)
  const problems = [...report.failures, ...leaks]
  const detail = problems.length === 0 ? `${plural(ctx.net.nodes.length, 'client')} stopped, no bus listener left` : problems.join('; ')
  ctx.checks.add('clean shutdown', problems.length === 0, detail)
}
