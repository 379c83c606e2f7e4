import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'

import { TEST_ACCOUNT_COUNT, testAccounts } from '../../../chain-config'
import { makeTestTx } from '../../testing/transactions'
import { describeError } from '../../errors'

import { formatDuration, shortHex } from './format'
import { rethrowInterrupt } from './phases'
import { type Trigger, waitForCondition } from './waits'

import type { TypedTransaction } from '@ethereumjs/tx'
import type { ChainUpdate } from '../../blockchain/chain'
import type { PhaseContext } from './phases'
import type { TestNode } from './node'

/** The block that holds a transaction, once one does. */
interface Inclusion {
  number: bigint
  hash: Uint8Array
}

/**
 * The relay checks: a transaction sent into the last node's pool reaches node 1 (hop by hop
 * through the relay), node 1 puts it in a block, and that block reaches every node. Without
 * block production (--dev-period 0) the transaction must reach every pool instead.
 */
export async function relayTransaction(ctx: PhaseContext): Promise<void> {
  const { net, options } = ctx
  const boot = net.bootnode
  const sender = net.nodes[net.nodes.length - 1] as TestNode
  const tx = await freshTransaction(sender)
  const id = shortHex(bytesToUnprefixedHex(tx.hash()))
  // Watched on every node from before the send, so no node's import of the block goes unseen.
  const watches = new Map(net.nodes.map((n) => [n, watchInclusion(n, tx)]))
  const included = (n: TestNode): Inclusion | undefined => watches.get(n)?.block
  const started = Date.now()
  try {
    if (!(await sender.client.service.txPool.add(tx))) throw new Error('the pool already held it')
    ctx.log.log(sender.label, 'tx', `sent transaction ${id} into the pool`)
    const reached = options.devPeriodMs > 0 ? [boot] : net.nodes
    await Promise.all(
      reached.map((n) => until(ctx, `transaction ${id} to reach ${n.label}`, () => n.client.service.txPool.has(tx.hash()) || included(n) !== undefined, poolOrChain(n))),
    )
    ctx.checks.pass(`transaction reaches ${options.devPeriodMs > 0 ? boot.label : 'every pool'}`, `${id} from ${sender.label}'s pool in ${formatDuration(Date.now() - started)}`)
    if (options.devPeriodMs === 0) return
    await until(ctx, `a block of ${boot.label} to include ${id}`, () => included(boot) !== undefined, headMoves(boot))
    const block = included(boot) as Inclusion
    ctx.checks.pass('transaction included in a block', `${id} in #${block.number} ${shortHex(bytesToUnprefixedHex(block.hash))} of ${boot.label}, ${formatDuration(Date.now() - started)} after it was sent`)
    const holds = (n: TestNode): boolean => included(n) !== undefined && equalsBytes(included(n)!.hash, block.hash)
    await Promise.all(net.nodes.map((n) => until(ctx, `${n.label} to import #${block.number}`, () => holds(n), headMoves(n))))
    const pools = net.nodes.map((n) => `${n.label} ${n.poolSize}`).join(', ')
    ctx.checks.pass('block with the transaction on every node', `#${block.number} on ${net.nodes.map((n) => n.label).join(', ')} ${formatDuration(Date.now() - started)} after the send; pools now ${pools}`)
  } catch (err) {
    rethrowInterrupt(err)
    ctx.checks.fail('transaction relayed and included', describeError(err))
  } finally {
    for (const w of watches.values()) w.stop()
  }
}

/** A transfer from the last test account at its next nonce, as the sending node sees it. */
async function freshTransaction(sender: TestNode): Promise<TypedTransaction> {
  const from = testAccounts[TEST_ACCOUNT_COUNT - 1]!
  const { nonce } = await sender.client.chain.getAccount(from.address)
  return makeTestTx(sender.config.common, { kind: '1559-transfer', from, nonce, seed: 'network-script', index: Number(nonce) })
}

/** Records the canonical block of `node` that includes `tx` (blocks as they become canonical). */
function watchInclusion(node: TestNode, tx: TypedTransaction): { block?: Inclusion; stop(): void } {
  const watch: { block?: Inclusion; stop(): void } = { stop: () => node.client.chain.events.off('updated', onUpdate) }
  const onUpdate = (u: ChainUpdate): void => {
    for (const b of u.added) if (b.transactions.some((t) => equalsBytes(t.hash(), tx.hash()))) watch.block = { number: b.header.number, hash: b.hash() }
  }
  node.client.chain.events.on('updated', onUpdate)
  return watch
}

/**
 * Rechecks on every head move of the node's chain. Subscribed after the inclusion watches
 * (which listen to the same chain events), so a recheck sees the watch already updated.
 */
function headMoves(node: TestNode): Trigger {
  const events = node.client.chain.events
  return (recheck) => {
    events.on('updated', recheck)
    return () => events.off('updated', recheck)
  }
}

function poolOrChain(node: TestNode): Trigger {
  const pool = node.client.service.txPool
  const head = headMoves(node)
  return (recheck) => {
    pool.on('added', recheck)
    const off = head(recheck)
    return () => {
      pool.off('added', recheck)
      off()
    }
  }
}

function until(ctx: PhaseContext, what: string, condition: () => boolean, trigger: Trigger): Promise<void> {
  return waitForCondition({ what, timeoutMs: ctx.options.timeoutMs, signal: ctx.signal, condition, trigger })
}
