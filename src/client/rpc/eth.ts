import { type TypedTransaction, createTxFromRLP } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'

import { StatePrunedError } from '../blockchain/errors'
import { describeError } from '../errors'

import { InvalidParamsError, RpcServerError } from './errors'
import { formatBlock, formatReceipt, formatTransaction } from './format'
import { type BlockSelector, address, blockNumberOrTag, blockSelector, bool, data, expectArgs, hash32, hexData, hexQuantity, quantity } from './params'

import type { Block } from '@ethereumjs/block'
import type { RpcContext, RpcMethods } from './context'

/** eth_*: chain, state, transactions and fees, in geth's result shapes. */
export function ethMethods(ctx: RpcContext): RpcMethods {
  const { client, fees, txIndex } = ctx
  const chain = client.chain
  const common = client.config.common

  /** The block a selector names, or undefined when this node does not have it. */
  const blockOf = async (sel: BlockSelector): Promise<Block | undefined> => {
    if (sel.kind === 'hash') {
      const [header] = await chain.getHeaders(sel.hash, 1, 0, false)
      return header === undefined ? undefined : chain.getBlock(header.hash())
    }
    const number = sel.kind === 'number' ? sel.number : tagNumber(sel.tag, chain.headers.height)
    return number > chain.headers.height ? undefined : chain.getBlock(number)
  }
  /** State queries answer geth's "header not found" for a block the node does not have. */
  const stateBlock = async (sel: BlockSelector): Promise<Block> => {
    const block = await blockOf(sel)
    if (block === undefined) throw new RpcServerError('header not found')
    return block
  }
  const accountAt = async (params: unknown[]) => {
    expectArgs(params, 1, 2)
    const who = address(params[0], 0)
    const block = await stateBlock(params.length > 1 ? blockSelector(params[1], 1) : { kind: 'tag', tag: 'latest' })
    try {
      return await chain.getAccount(who, block.header)
    } catch (err) {
      // geth's answer for a state a non-archive node no longer has.
      if (err instanceof StatePrunedError) throw new RpcServerError(`missing trie node ${bytesToHex(err.stateRoot)}: ${err.message}`, { cause: err })
      throw err
    }
  }

  return {
    eth_chainId: (params) => {
      expectArgs(params, 0, 0)
      return hexQuantity(common.chainId())
    },
    eth_blockNumber: (params) => {
      expectArgs(params, 0, 0)
      return hexQuantity(chain.headers.height)
    },
    eth_syncing: (params) => {
      expectArgs(params, 0, 0)
      const status = ctx.sync()?.syncing() ?? false
      if (status === false) return false
      return { startingBlock: hexQuantity(status.startingBlock), currentBlock: hexQuantity(status.currentBlock), highestBlock: hexQuantity(status.highestBlock) }
    },
    eth_getBlockByNumber: async (params) => {
      expectArgs(params, 2, 2)
      const block = await blockOf(blockNumberOrTag(params[0], 0))
      return block === undefined ? null : formatBlock(block, bool(params[1], 1))
    },
    eth_getBlockByHash: async (params) => {
      expectArgs(params, 2, 2)
      const block = await blockOf({ kind: 'hash', hash: hash32(params[0], 0) })
      return block === undefined ? null : formatBlock(block, bool(params[1], 1))
    },
    eth_getBalance: async (params) => hexQuantity((await accountAt(params))?.balance ?? 0n),
    eth_getTransactionCount: async (params) => hexQuantity((await accountAt(params))?.nonce ?? 0n),
    eth_getTransactionByHash: async (params) => {
      expectArgs(params, 1, 1)
      const hash = hash32(params[0], 0)
      const at = await txIndex.find(hash)
      if (at !== undefined) return formatTransaction(at.block.transactions[at.index]!, at)
      const [pending] = client.service.txPool.getByHash([hash])
      return pending === undefined ? null : formatTransaction(pending, undefined)
    },
    eth_getTransactionReceipt: async (params) => {
      expectArgs(params, 1, 1)
      const at = await txIndex.find(hash32(params[0], 0))
      if (at === undefined) return null
      const [receipts] = await chain.getReceipts([at.block.hash()])
      return receipts === undefined ? null : formatReceipt(at, receipts)
    },
    eth_sendRawTransaction: async (params) => {
      expectArgs(params, 1, 1)
      const bytes = data(params[0], 0)
      let tx: TypedTransaction
      try {
        tx = createTxFromRLP(bytes, { common })
      } catch (err) {
        throw new InvalidParamsError(`0: not a signed transaction: ${describeError(err)}`)
      }
      await checkAgainstHead(ctx, tx)
      let added: boolean
      try {
        added = await client.service.txPool.add(tx)
      } catch (err) {
        throw new RpcServerError(describeError(err), { cause: err })
      }
      if (!added) throw new RpcServerError('already known')
      return hexData(tx.hash())
    },
    eth_gasPrice: async (params) => {
      expectArgs(params, 0, 0)
      return hexQuantity(await fees.gasPrice())
    },
    eth_maxPriorityFeePerGas: async (params) => {
      expectArgs(params, 0, 0)
      return hexQuantity(await fees.suggestTip())
    },
    eth_feeHistory: async (params) => {
      expectArgs(params, 2, 3)
      const count = blockCount(params[0])
      const newest = await stateBlock(blockNumberOrTag(params[1], 1))
      const percentiles = params[2] ?? []
      if (!Array.isArray(percentiles)) throw new InvalidParamsError('2: expected an array of reward percentiles')
      return fees.feeHistory(count, newest.header.number, percentiles as number[])
    },
  }
}

/**
 * The checks geth's pool makes against the head state before it takes a transaction, with
 * geth's messages: a nonce already used, funds short of gas × fee cap + value, or a gas limit
 * below the transaction's intrinsic gas.
 */
async function checkAgainstHead(ctx: RpcContext, tx: TypedTransaction): Promise<void> {
  if (!tx.isSigned()) throw new InvalidParamsError('0: transaction is not signed')
  const chain = ctx.client.chain
  const sender = tx.getSenderAddress()
  const account = await chain.getAccount(sender, chain.headers.latest)
  const nonce = account?.nonce ?? 0n
  if (tx.nonce < nonce) throw new RpcServerError(`nonce too low: address ${sender.toString()}, tx: ${tx.nonce} state: ${nonce}`)
  const cost = tx.getUpfrontCost()
  const balance = account?.balance ?? 0n
  if (balance < cost) throw new RpcServerError(`insufficient funds for gas * price + value: address ${sender.toString()} have ${balance} want ${cost}`)
  const intrinsic = tx.getIntrinsicGas()
  if (tx.gasLimit < intrinsic) throw new RpcServerError(`intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${intrinsic}`)
}

/** 'latest' and 'pending' are the head (this node builds no pending block), 'earliest' genesis. */
function tagNumber(tag: 'latest' | 'earliest' | 'pending' | 'safe' | 'finalized', head: bigint): bigint {
  switch (tag) {
    case 'earliest':
      return 0n
    case 'latest':
    case 'pending':
      return head
    case 'safe':
    case 'finalized':
      // No consensus client tells this node what is safe or final.
      throw new RpcServerError(`${tag} block not found`)
  }
}

/** eth_feeHistory's block count: a hex quantity, or (as geth also accepts) a plain integer. */
function blockCount(value: unknown): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  return quantity(value, 0)
}
