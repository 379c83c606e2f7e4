export * from './testchain'
export {
  LARGE_BLOCK_CHAIN_ID,
  LARGE_TX_DATA_BYTES,
  type LargeBlockOptions,
  type LargeBlocks,
  MAX_LARGE_BLOCK_BYTES,
  buildLargeBlock,
  calldataTransferGas,
  largeBlockGasLimit,
} from './largeblock'
