import { Capability, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, createContractAddress } from '@ethereumjs/util'

import { decodeReceipt } from '../blockchain/verify'

import { hexData, hexQuantity } from './params'

import type { Block, BlockHeader } from '@ethereumjs/block'

/** Where a mined transaction sits. */
export interface TxLocation {
  block: Block
  index: number
}

type Json = Record<string, unknown>

/** A block as geth's eth_getBlockBy* returns it; `full` inlines transaction objects, else their hashes. */
export function formatBlock(block: Block, full: boolean): Json {
  const h = block.header
  const out: Json = {
    ...formatHeaderFields(h),
    hash: hexData(block.hash()),
    size: hexQuantity(block.serialize().length),
    transactions: block.transactions.map((tx, index) => (full ? formatTransaction(tx, { block, index }) : hexData(tx.hash()))),
    uncles: block.uncleHeaders.map((u) => hexData(u.hash())),
  }
  if (block.withdrawals !== undefined) {
    out.withdrawals = block.withdrawals.map((w) => ({
      index: hexQuantity(w.index),
      validatorIndex: hexQuantity(w.validatorIndex),
      address: w.address.toString(),
      amount: hexQuantity(w.amount),
    }))
  }
  return out
}

function formatHeaderFields(h: BlockHeader): Json {
  const out: Json = {
    number: hexQuantity(h.number),
    parentHash: hexData(h.parentHash),
    sha3Uncles: hexData(h.uncleHash),
    miner: h.coinbase.toString(),
    stateRoot: hexData(h.stateRoot),
    transactionsRoot: hexData(h.transactionsTrie),
    receiptsRoot: hexData(h.receiptTrie),
    logsBloom: hexData(h.logsBloom),
    difficulty: hexQuantity(h.difficulty),
    gasLimit: hexQuantity(h.gasLimit),
    gasUsed: hexQuantity(h.gasUsed),
    timestamp: hexQuantity(h.timestamp),
    extraData: hexData(h.extraData),
    mixHash: hexData(h.mixHash),
    nonce: hexData(h.nonce),
  }
  if (h.baseFeePerGas !== undefined) out.baseFeePerGas = hexQuantity(h.baseFeePerGas)
  if (h.withdrawalsRoot !== undefined) out.withdrawalsRoot = hexData(h.withdrawalsRoot)
  if (h.blobGasUsed !== undefined) out.blobGasUsed = hexQuantity(h.blobGasUsed)
  if (h.excessBlobGas !== undefined) out.excessBlobGas = hexQuantity(h.excessBlobGas)
  if (h.parentBeaconBlockRoot !== undefined) out.parentBeaconBlockRoot = hexData(h.parentBeaconBlockRoot)
  if (h.requestsHash !== undefined) out.requestsHash = hexData(h.requestsHash)
  return out
}

/** The price per gas a transaction pays in a block with `baseFee` (its gasPrice before London). */
export function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint | undefined): bigint {
  if (baseFee === undefined || !tx.supports(Capability.EIP1559FeeMarket)) return (tx as { gasPrice: bigint }).gasPrice
  return baseFee + tx.getEffectivePriorityFee(baseFee)
}

/**
 * A transaction as geth's eth_getTransactionBy* returns it: block position when mined
 * (`at`), nulls when pending; gasPrice is the effective price of a mined 1559 transaction.
 */
export function formatTransaction(tx: TypedTransaction, at: TxLocation | undefined): Json {
  const j = tx.toJSON() as Record<string, string | undefined | unknown[]>
  const out: Json = {
    blockHash: at === undefined ? null : hexData(at.block.hash()),
    blockNumber: at === undefined ? null : hexQuantity(at.block.header.number),
    transactionIndex: at === undefined ? null : hexQuantity(at.index),
    from: tx.getSenderAddress().toString(),
    gas: hexQuantity(tx.gasLimit),
    hash: hexData(tx.hash()),
    input: hexData(tx.data),
    nonce: hexQuantity(tx.nonce),
    to: tx.to === undefined ? null : tx.to.toString(),
    value: hexQuantity(tx.value),
    type: hexQuantity(tx.type),
    v: hexQuantity(tx.v ?? 0n),
    r: hexQuantity(tx.r ?? 0n),
    s: hexQuantity(tx.s ?? 0n),
  }
  if (tx.supports(Capability.EIP1559FeeMarket)) {
    out.maxFeePerGas = j.maxFeePerGas
    out.maxPriorityFeePerGas = j.maxPriorityFeePerGas
    const baseFee = at?.block.header.baseFeePerGas
    out.gasPrice = hexQuantity(at === undefined || baseFee === undefined ? BigInt(j.maxFeePerGas as string) : effectiveGasPrice(tx, baseFee))
  } else {
    out.gasPrice = j.gasPrice
  }
  if (j.chainId !== undefined) out.chainId = j.chainId
  if (j.accessList !== undefined) out.accessList = j.accessList
  if (j.maxFeePerBlobGas !== undefined) out.maxFeePerBlobGas = j.maxFeePerBlobGas
  if (j.blobVersionedHashes !== undefined) out.blobVersionedHashes = j.blobVersionedHashes
  if (j.authorizationList !== undefined) out.authorizationList = j.authorizationList
  if (tx.type !== 0) out.yParity = hexQuantity(tx.v ?? 0n)
  return out
}

/**
 * A receipt as geth's eth_getTransactionReceipt returns it, from the block's consensus-encoded
 * receipts (gas used is the difference of cumulative gas; log indexes count across the block).
 */
export function formatReceipt(at: TxLocation, encodedReceipts: readonly Uint8Array[]): Json {
  const { block, index } = at
  const tx = block.transactions[index]!
  let logIndex = 0
  let previousGas = 0n
  for (let i = 0; i < index; i++) {
    const r = decodeReceipt(encodedReceipts[i]!)
    logIndex += r.logs.length
    if (i === index - 1) previousGas = r.cumulativeGasUsed
  }
  const receipt = decodeReceipt(encodedReceipts[index]!)
  const blockHash = hexData(block.hash())
  const blockNumber = hexQuantity(block.header.number)
  const transactionHash = hexData(tx.hash())
  const from = tx.getSenderAddress()
  return {
    blockHash,
    blockNumber,
    transactionHash,
    transactionIndex: hexQuantity(index),
    from: from.toString(),
    to: tx.to === undefined ? null : tx.to.toString(),
    contractAddress: tx.to === undefined ? createContractAddress(from, tx.nonce).toString() : null,
    cumulativeGasUsed: hexQuantity(receipt.cumulativeGasUsed),
    gasUsed: hexQuantity(receipt.cumulativeGasUsed - previousGas),
    effectiveGasPrice: hexQuantity(effectiveGasPrice(tx, block.header.baseFeePerGas)),
    logsBloom: hexData(receipt.bloom),
    logs: receipt.logs.map((log, i) => {
      const [addr, topics, payload] = log as unknown as [Uint8Array, Uint8Array[], Uint8Array]
      return {
        address: bytesToHex(addr),
        topics: topics.map(hexData),
        data: hexData(payload),
        blockHash,
        blockNumber,
        transactionHash,
        transactionIndex: hexQuantity(index),
        logIndex: hexQuantity(logIndex + i),
        removed: false,
      }
    }),
    status: receipt.status.length === 1 && receipt.status[0] === 1 ? '0x1' : '0x0',
    type: hexQuantity(tx.type),
  }
}
