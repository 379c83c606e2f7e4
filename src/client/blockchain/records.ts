import { bytesToHex } from '@ethereumjs/util'

import type { Block, BlockHeader } from '@ethereumjs/block'

/**
 * Where a Chain keeps what @ethereumjs/blockchain does not (the receipts execution produced,
 * which states are kept) and when its writes become durable. Two kinds: in memory
 * (MemoryRecords: nothing is pruned, nothing is written) and a dataDir's ChainStore
 * (src/client/db/chainstore.ts), where everything a block changes is staged and `flush()`
 * writes it in one atomic batch.
 *
 * The Chain stages each executed block (`stageBlock`), stages the head whenever the fork
 * choice moves it (`stageHead`) and flushes then, so what reaches the disk is always a head
 * whose block and state are both there.
 */
export interface ChainRecords {
  /**
   * States kept below the head: a block whose parent's state is older is refused with
   * StatePrunedError. undefined: every executed block's state is kept.
   */
  readonly stateHistory: number | undefined
  /** The consensus-encoded receipts of a stored block, or undefined. */
  receipts(hash: Uint8Array): Uint8Array[] | undefined
  /** Whether the state with this root is held (the state of every block executed here, unless pruned). */
  hasState(root: Uint8Array): boolean
  /** An executed block: its receipts and the state its execution left (whose root is the header's). */
  stageBlock(block: Block, receipts: readonly Uint8Array[]): void
  /** The fork choice's head (its state is held); states that fell out of the history window go. */
  stageHead(head: BlockHeader): void
  /** Drops the state written by an execution that failed (its block is not kept). */
  discardState(): void
  /** Makes everything staged durable at once; on failure none of it is, and the records refuse further use. */
  flush(): Promise<void>
}

/** The records of an in-memory chain: receipts in a map, every state kept, nothing to flush. */
export class MemoryRecords implements ChainRecords {
  readonly stateHistory = undefined
  private readonly byHash = new Map<string, Uint8Array[]>()

  receipts(hash: Uint8Array): Uint8Array[] | undefined {
    const stored = this.byHash.get(bytesToHex(hash))
    return stored === undefined ? undefined : [...stored]
  }

  hasState(): boolean {
    return true
  }

  stageBlock(block: Block, receipts: readonly Uint8Array[]): void {
    this.byHash.set(bytesToHex(block.hash()), [...receipts])
  }

  stageHead(): void {}

  discardState(): void {}

  async flush(): Promise<void> {}
}
