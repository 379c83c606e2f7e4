/**
 * The kill test's child: imports the blocks of a file (RLP list of serialized blocks) into
 * the ChainStore of a dataDir, one atomic batch per block, printing a JSON line once open
 * and after every batch written. `--kill-at-batch N` SIGKILLs the process while its N-th
 * batch is being written (the write handed to LevelDB, not yet acknowledged).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { createBlockFromRLP } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'

import { Common } from '../../src/chain-config'
import { ChainStore } from '../../src/client/db/chainstore'
import { importBlocks } from '../../src/client/db/importer'
import { LevelKvStore } from '../../src/client/db/level'

const { values } = parseArgs({ options: { dataDir: { type: 'string' }, blocks: { type: 'string' }, chainId: { type: 'string' }, 'kill-at-batch': { type: 'string' } } })
const common = Common.custom({ chainId: Number(values.chainId), name: 'kill-test' })
const blocks = (RLP.decode(readFileSync(values.blocks!)) as Uint8Array[]).map((b) => createBlockFromRLP(b, { common, setHardfork: true }))
const kv = await LevelKvStore.open(join(values.dataDir!, 'chaindata'), { dataDir: values.dataDir! })
const killAt = values['kill-at-batch'] === undefined ? undefined : Number(values['kill-at-batch'])
let batches = 0
const batch = kv.batch.bind(kv)
kv.batch = (ops) => {
  const write = batch(ops)
  if (killAt !== undefined && ++batches === killAt) process.kill(process.pid, 'SIGKILL')
  return write
}
const store = await ChainStore.open({ kv, common })
const say = (msg: object): void => void process.stdout.write(`${JSON.stringify(msg)}\n`)
say({ opened: Number(store.head.number) })
for (const block of blocks) {
  if (block.header.number <= store.head.number) continue
  await importBlocks(store, [block])
  say({ head: Number(store.head.number) })
}
await store.close()
say({ done: Number(store.head.number) })
