export * from './testchain'
export {
  LARGE_BLOCK_CHAIN_ID,
  LARGE_LOG_DATA_BYTES,
  LARGE_TX_DATA_BYTES,
  type LargeBlockOptions,
  type LargeBlocks,
  MAX_LARGE_BLOCK_BYTES,
  buildLargeBlock,
  calldataTransferGas,
  largeBlockGasLimit,
  largeLogBlockGasLimit,
  logCallGas,
} from './largeblock'
