import { bytesToUnprefixedHex, utf8ToBytes } from '@ethereumjs/util'
import { afterEach, describe, expect, it } from 'vitest'

import { PEER_PREFIX } from '../../../src/client/db/keys'
import { prefixed } from '../../../src/client/db/kvstore'
import { LevelKvStore } from '../../../src/client/db/level'
import { NodeTable } from '../../../src/client/db/nodetable'
import { tempDir } from '../../utils/disk'

const id = (n: number): string => n.toString(16).padStart(2, '0').repeat(64)

describe('NodeTable', () => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
  })
  async function kvAt(path: string): Promise<LevelKvStore> {
    const kv = await LevelKvStore.open(path, { dataDir: path })
    cleanups.push(() => kv.close())
    return kv
  }

  it('remembers discovered nodes and sessions across reopen, sessions first in dial order', async () => {
    const dir = tempDir('nodes')
    cleanups.push(dir.remove)
    let clock = 1_000
    const first = await LevelKvStore.open(dir.path, { dataDir: dir.path })
    const table = await NodeTable.open(first, { now: () => clock })
    table.seen({ id: id(1), ip: '10.0.0.1', tcpPort: 30301, udpPort: 30301 })
    clock++
    table.seen({ id: id(2), ip: '10.0.0.2', tcpPort: 30302, udpPort: 30302 })
    clock++
    table.session(id(1), '10.0.0.1:30301')
    clock++
    table.session(id(3), '10.0.0.3:30303') // dialed from a bootnode list: no discovery port
    await table.flushed()
    await first.close()

    const again = await NodeTable.open(await kvAt(dir.path), { now: () => clock })
    expect(again.size).toBe(3)
    expect(again.get(id(1))).toMatchObject({ ip: '10.0.0.1', tcpPort: 30301, udpPort: 30301, lastSession: 1_002 })
    expect(again.dialOrder().map((n) => bytesToUnprefixedHex(n.id!))).toEqual([id(3), id(1), id(2)])
    expect(again.dialOrder()[0]).toMatchObject({ address: '10.0.0.3', tcpPort: 30303, udpPort: 0 })
  })

  it('ignores records it cannot dial (bad id, address or port)', async () => {
    const dir = tempDir('nodes-bad')
    cleanups.push(dir.remove)
    const table = await NodeTable.open(await kvAt(dir.path))
    table.seen({ id: 'zz', ip: '10.0.0.1', tcpPort: 1, udpPort: 1 })
    table.seen({ id: id(1), ip: 'not-an-ip', tcpPort: 1, udpPort: 1 })
    table.seen({ id: id(1), ip: '10.0.0.1', tcpPort: 0, udpPort: 1 })
    table.session(id(1), '10.0.0.1:99999')
    expect(table.size).toBe(0)
  })

  it('drops expired and malformed records at load, and evicts beyond maxNodes (never-connected, oldest first)', async () => {
    const dir = tempDir('nodes-evict')
    cleanups.push(dir.remove)
    const kv = await kvAt(dir.path)
    let clock = 0
    const table = await NodeTable.open(kv, { maxNodes: 2, now: () => clock })
    table.session(id(1), '10.0.0.1:1')
    clock = 10
    table.seen({ id: id(2), ip: '10.0.0.2', tcpPort: 2, udpPort: 2 })
    clock = 20
    table.seen({ id: id(3), ip: '10.0.0.3', tcpPort: 3, udpPort: 3 })
    expect([...table.dialOrder()].map((n) => bytesToUnprefixedHex(n.id!)).sort()).toEqual([id(1), id(3)])
    await table.flushed()
    await kv.batch([{ type: 'put', key: prefixed(PEER_PREFIX, Uint8Array.of(9)), value: utf8ToBytes('{not json') }])
    const reloaded = await NodeTable.open(kv, { maxAgeMs: 15, now: () => 30 })
    expect(reloaded.size).toBe(1)
    expect(reloaded.get(id(3))).toBeDefined()
  })
})
