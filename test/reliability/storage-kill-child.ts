/**
 * The kill test's child: a node on a dataDir that either syncs from a peer (`--mode sync
 * --peer URL [--p2p]`, a whole EthereumClient with its Synchronizer) or imports the blocks of
 * a file (`--mode import --blocks FILE`, RLP list of serialized blocks, through Chain.putBlocks
 * a few blocks per call). It prints JSON lines: `{opened}` once its chain is open (head
 * number, hash, state root, and a read of the head's state), `{written}` after each head
 * write the database acknowledged (the head hash it wrote), `{done}` once its head is
 * `--target`. `--kill-at-write N` SIGKILLs the process while its N-th head write after
 * opening is in the database's hands (handed to LevelDB, not yet acknowledged).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import { createBlockFromRLP } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes, utf8ToBytes } from '@ethereumjs/util'

import { Common, testAccounts } from '../../src/chain-config'
import { Chain } from '../../src/client/blockchain/chain'
import { Config } from '../../src/client/config'
import { EthereumClient } from '../../src/client/client'
import { DataDir } from '../../src/client/db/datadir'
import { META_PREFIX } from '../../src/client/db/keys'
import { type KvOp, prefixed } from '../../src/client/db/kvstore'
import { LevelKvStore } from '../../src/client/db/level'
import { Event } from '../../src/client/types'

/** Blocks per putBlocks call in import mode: several, so kills land inside multi-block calls. */
const IMPORT_CALL_BLOCKS = 16

const { values } = parseArgs({
  options: {
    dataDir: { type: 'string' },
    chainId: { type: 'string' },
    mode: { type: 'string' },
    peer: { type: 'string' },
    p2p: { type: 'boolean', default: false },
    blocks: { type: 'string' },
    target: { type: 'string' },
    'kill-at-write': { type: 'string' },
  },
})
const dataDir = values.dataDir!
const target = BigInt(values.target!)
const common = Common.custom({ chainId: Number(values.chainId), name: 'kill-test' })
const say = (msg: object): void => void process.stdout.write(`${JSON.stringify(msg, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}\n`)

// Head writes are the chain's batches (they carry the head record); the node table's are not counted.
const HEAD_KEY = prefixed(META_PREFIX, utf8ToBytes('head'))
const killAt = values['kill-at-write'] === undefined ? undefined : Number(values['kill-at-write'])
let armed = false
let headWrites = 0
const batch = LevelKvStore.prototype.batch
LevelKvStore.prototype.batch = function (this: LevelKvStore, ops: readonly KvOp[]): Promise<void> {
  const head = ops.find((op) => op.type === 'put' && equalsBytes(op.key, HEAD_KEY))
  const write = batch.call(this, ops)
  if (head === undefined || !armed) return write
  if (++headWrites === killAt) process.kill(process.pid, 'SIGKILL')
  return write.then(() => say({ written: bytesToHex((head as { value: Uint8Array }).value) }))
}

async function opened(chain: Chain): Promise<void> {
  const head = chain.headers.latest
  // The head's state opens: an account read at the head's state root.
  const { nonce } = await chain.getAccount(testAccounts[0]!.address, head)
  say({ opened: head.number, hash: bytesToHex(head.hash()), stateRoot: bytesToHex(head.stateRoot), nonce })
  armed = true
}

async function sync(): Promise<void> {
  const config = new Config({ common, dataDir, port: 0, discPort: 0, bindAddress: '127.0.0.1', discV4: false, useP2PServer: values.p2p, bootnodes: [values.peer!] })
  const client = await EthereumClient.create({ config })
  await opened(client.chain)
  const reached = config.events.waitFor(Event.CHAIN_UPDATED, { timeoutMs: 120_000, filter: (u) => u.height === target })
  await client.start()
  if (client.chain.headers.height < target) await reached
  await client.stop()
}

async function importFile(): Promise<void> {
  const blocks = (RLP.decode(readFileSync(values.blocks!)) as Uint8Array[]).map((b) => createBlockFromRLP(b, { common, setHardfork: true }))
  const dir = await DataDir.open(dataDir, { common })
  const chain = await Chain.create({ common, store: dir.chain })
  await opened(chain)
  for (let n = Number(chain.headers.height); n < Number(target); n += IMPORT_CALL_BLOCKS) await chain.putBlocks(blocks.slice(n, n + IMPORT_CALL_BLOCKS))
  await chain.close()
  await dir.close()
}

await (values.mode === 'sync' ? sync() : importFile())
say({ done: target })
