import { type TypedTransaction, isBlob4844Tx } from '@ethereumjs/tx'

/**
 * Prices and orders of pooled transactions: what a transaction pays, when a replacement
 * outbids the transaction it replaces, which transaction a full pool evicts, and the order
 * in which a block producer takes them.
 */

/**
 * A replacement (same sender and nonce) must raise both the fee cap and the tip by this many
 * percent: geth's PriceBump default, so re-sending for a trivial increase cannot churn the pool.
 */
export const PRICE_BUMP_PERCENT = 10n

/** One pooled transaction with what the pool reads from it often. */
export interface PoolEntry {
  tx: TypedTransaction
  /** Unprefixed hex of the hash. */
  hash: string
  /** Lower-case 0x address of the sender. */
  sender: string
  nonce: bigint
  /** Most it can cost its sender: gas limit × fee cap + value (+ blob gas × blob fee cap). */
  cost: bigint
  /** Highest fee per gas it pays (maxFeePerGas, or gasPrice for legacy and EIP-2930). */
  feeCap: bigint
  /** Highest tip per gas (maxPriorityFeePerGas, or gasPrice). */
  tipCap: bigint
  /** Arrival order: older entries have lower numbers. */
  seq: number
}

export function poolEntry(tx: TypedTransaction, hash: string, seq: number): PoolEntry {
  const fees = tx as unknown as { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; gasPrice?: bigint }
  const feeCap = fees.maxFeePerGas ?? fees.gasPrice ?? 0n
  const tipCap = fees.maxPriorityFeePerGas ?? fees.gasPrice ?? 0n
  let cost = tx.gasLimit * feeCap + tx.value
  // EIP-4844: every blob costs the fork's blobGasPerBlob of blob gas.
  if (isBlob4844Tx(tx)) cost += BigInt(tx.blobVersionedHashes.length) * tx.common.param('blobGasPerBlob') * tx.maxFeePerBlobGas
  return { tx, hash, sender: tx.getSenderAddress().toString(), nonce: tx.nonce, cost, feeCap, tipCap, seq }
}

/** Tip per gas the transaction pays its block's producer at `baseFee`; negative when its fee cap is below the base fee. */
export function effectiveTip(e: PoolEntry, baseFee: bigint): bigint {
  const room = e.feeCap - baseFee
  return room < e.tipCap ? room : e.tipCap
}

/** Whether `next` may replace `prev` (same sender and nonce): both caps raised by PRICE_BUMP_PERCENT. */
export function replaces(next: PoolEntry, prev: PoolEntry): boolean {
  const bumped = (old: bigint): bigint => (old * (100n + PRICE_BUMP_PERCENT) + 99n) / 100n
  return next.feeCap >= bumped(prev.feeCap) && next.tipCap >= bumped(prev.tipCap)
}

/**
 * The transaction a full pool drops first: among each sender's highest nonce (dropping it
 * leaves no gap), the one paying the least at `baseFee`, the oldest of equals.
 */
export function toEvict(senders: Iterable<ReadonlyMap<bigint, PoolEntry>>, baseFee: bigint): PoolEntry | undefined {
  let victim: PoolEntry | undefined
  for (const own of senders) {
    let last: PoolEntry | undefined
    for (const e of own.values()) if (last === undefined || e.nonce > last.nonce) last = e
    if (last === undefined) continue
    if (victim === undefined) victim = last
    else {
      const d = effectiveTip(last, baseFee) - effectiveTip(victim, baseFee)
      if (d < 0n || (d === 0n && last.seq < victim.seq)) victim = last
    }
  }
  return victim
}

/**
 * Merges per-sender runs of consecutive nonces into one block order, best-paying first. A
 * transaction can only follow its sender's earlier ones, so it counts at the lowest tip of
 * its run so far; sorting on that (ties: older sender first, then nonce) keeps every run in
 * nonce order and puts each run's payable prefix as early as its pay allows.
 */
export function executableOrder(runs: readonly (readonly PoolEntry[])[], baseFee: bigint): PoolEntry[] {
  const ranked: { entry: PoolEntry; tip: bigint; first: number }[] = []
  for (const run of runs) {
    let cap: bigint | undefined
    const first = run[0]?.seq ?? 0
    for (const entry of run) {
      const tip = effectiveTip(entry, baseFee)
      cap = cap === undefined || tip < cap ? tip : cap
      ranked.push({ entry, tip: cap, first })
    }
  }
  ranked.sort((a, b) => (a.tip !== b.tip ? (a.tip > b.tip ? -1 : 1) : a.first !== b.first ? a.first - b.first : a.entry.nonce < b.entry.nonce ? -1 : 1))
  return ranked.map((r) => r.entry)
}
