import type { Common } from '@ethereumjs/common'
import { type TypedTransaction, createAccessList2930Tx, createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx'
import { type PrefixedHexString, bytesToHex, utf8ToBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'

import { LOG_CONTRACT_ADDRESS, type TestAccount } from '../../chain-config'

/** Gas price of legacy/2930 test transactions and fee cap of 1559 ones: 10 gwei, far above the
 * 1 gwei genesis base fee, which only falls on these mostly empty blocks. */
export const TEST_MAX_FEE = 10_000_000_000n
/** Priority fee of 1559 test transactions: 1 gwei. */
export const TEST_PRIORITY_FEE = 1_000_000_000n
/** Gas limit of a plain transfer. */
export const TRANSFER_GAS = 21_000n
/** Gas limit of a call to the log contract: its LOG1 over <= 64 bytes needs well under this. */
export const CONTRACT_CALL_GAS = 60_000n

/**
 * The kinds of test transactions, cycled in this order so every block of a few transactions
 * mixes legacy, EIP-2930 and EIP-1559 envelopes, plain transfers, calls that log, and a call
 * that reverts (a status-0 receipt).
 */
export const TX_KINDS = ['legacy-transfer', '2930-log', '1559-transfer', '1559-log', 'legacy-log', '1559-revert'] as const
export type TxKind = (typeof TX_KINDS)[number]

export interface TxSpec {
  kind: TxKind
  from: TestAccount
  nonce: bigint
  /** Distinguishes recipients, values and calldata between chains built with different seeds. */
  seed: string
  /** Global index of this transaction in the chain. */
  index: number
}

/** Deterministic pseudo-random bytes for (seed, index, purpose). */
export function derivedBytes(seed: string, index: number, purpose: string): Uint8Array {
  return keccak_256(utf8ToBytes(`ethp2p/testchain/${seed}/${index}/${purpose}`))
}

function recipient(spec: TxSpec): PrefixedHexString {
  return bytesToHex(derivedBytes(spec.seed, spec.index, 'to').subarray(12))
}

function transferValue(spec: TxSpec): bigint {
  // 1..65536 gwei: non-trivial balances without ever draining a funded account.
  const b = derivedBytes(spec.seed, spec.index, 'value')
  return (BigInt((b[0]! << 8) | b[1]!) + 1n) * 1_000_000_000n
}

function logData(spec: TxSpec): Uint8Array {
  const b = derivedBytes(spec.seed, spec.index, 'data')
  const len = 1 + (b[0]! % 64)
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) out[i] = b[i % 32]! ^ i
  return out
}

/** Builds and signs one test transaction. Signing is deterministic (RFC 6979, no extra entropy). */
export function makeTestTx(common: Common, spec: TxSpec): TypedTransaction {
  const base = { nonce: spec.nonce }
  const fee1559 = { maxFeePerGas: TEST_MAX_FEE, maxPriorityFeePerGas: TEST_PRIORITY_FEE }
  const logCall = { to: LOG_CONTRACT_ADDRESS, gasLimit: CONTRACT_CALL_GAS, value: 0n, data: logData(spec) } as const
  const transfer = { to: recipient(spec), gasLimit: TRANSFER_GAS, value: transferValue(spec) }
  let tx: TypedTransaction
  switch (spec.kind) {
    case 'legacy-transfer':
      tx = createLegacyTx({ ...base, ...transfer, gasPrice: TEST_MAX_FEE }, { common })
      break
    case 'legacy-log':
      tx = createLegacyTx({ ...base, ...logCall, gasPrice: TEST_MAX_FEE }, { common })
      break
    case '2930-log':
      tx = createAccessList2930Tx(
        { ...base, ...logCall, gasPrice: TEST_MAX_FEE, accessList: [{ address: LOG_CONTRACT_ADDRESS, storageKeys: [] }] },
        { common },
      )
      break
    case '1559-transfer':
      tx = createFeeMarket1559Tx({ ...base, ...transfer, ...fee1559 }, { common })
      break
    case '1559-log':
      tx = createFeeMarket1559Tx({ ...base, ...logCall, ...fee1559 }, { common })
      break
    case '1559-revert':
      // Any value sent to the log contract makes it revert.
      tx = createFeeMarket1559Tx({ ...base, ...logCall, value: 1n, ...fee1559 }, { common })
      break
  }
  return tx.sign(spec.from.privateKey, false)
}
