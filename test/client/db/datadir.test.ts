import { spawn } from 'node:child_process'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { Config, EthereumClient, Event, type Peer } from '../../../src/client'
import { testAccounts } from '../../../src/chain-config'
import { Chain } from '../../../src/client/blockchain/chain'
import { DevBlockProducer } from '../../../src/client/service/devproducer'
import { TxRejectedError } from '../../../src/client/service/txpool'
import { makeTestTx } from '../../../src/client/testing/transactions'
import { ConfigError } from '../../../src/client/errors'
import { expectRejectsTyped } from '../../reliability/table'
import { tempDir } from '../../utils/disk'
import { enodeId, nextPeer, startNode, testCommon } from '../helpers/nodes'
import { WAIT_MS } from '../helpers/waits'

describe('dataDir: identity, lock and known peers across restarts', () => {
  it('a second client on a dataDir in use fails at once with ConfigError naming the directory', async () => {
    const dir = tempDir('datadir-lock')
    const { client } = await startNode({ dataDir: dir.path, discV4: false })
    try {
      const config = new Config({ common: testCommon(), dataDir: dir.path, port: 0, discV4: false })
      const err = await expectRejectsTyped(EthereumClient.create({ config }), ConfigError, 'ERR_CONFIG_INVALID')
      expect(err.option).toBe('dataDir')
      expect(err.message).toContain(dir.path)
      expect(err.message).toContain('in use')
    } finally {
      await client.stop()
      dir.remove()
    }
  })

  it('a client given a chain and a dataDir is a ConfigError, and the dataDir is not left locked', async () => {
    const dir = tempDir('datadir-chain')
    try {
      const chain = await Chain.create({ common: testCommon() })
      const config = new Config({ common: testCommon(), dataDir: dir.path, port: 0, discV4: false })
      const err = await expectRejectsTyped(EthereumClient.create({ config, chain }), ConfigError, 'ERR_CONFIG_INVALID')
      expect(err.option).toBe('dataDir')
      await chain.close()
      const client = await EthereumClient.create({ config })
      expect(client.chain.headers.height).toBe(0n)
      await client.stop()
    } finally {
      dir.remove()
    }
  })

  it('the pool and the dev producer run on the stored chain: a produced block and its state survive a restart', async () => {
    const dir = tempDir('datadir-produce')
    try {
      const common = testCommon()
      const from = testAccounts[5]!
      const tx = (nonce: bigint) => makeTestTx(common, { kind: '1559-transfer', from, nonce, seed: 'datadir-produce', index: Number(nonce) })
      let { client } = await startNode({ dataDir: dir.path, discV4: false, sync: false })
      try {
        expect(await client.service.txPool.add(tx(0n))).toBe(true)
        const producer = new DevBlockProducer({ chain: client.chain, txPool: client.service.txPool, periodMs: 60_000, onError: (err) => { throw err } })
        const built = await producer.produce()
        expect(built.included).toHaveLength(1)
        expect(client.chain.headers.height).toBe(1n)
      } finally {
        await client.stop()
      }
      ;({ client } = await startNode({ dataDir: dir.path, discV4: false, sync: false }))
      try {
        expect(client.chain.headers.height).toBe(1n)
        expect((await client.chain.getAccount(from.address)).nonce).toBe(1n)
        // The pool checks against the stored state: the included nonce is stale, the next one is taken.
        await expectRejectsTyped(client.service.txPool.add(tx(0n)), TxRejectedError, 'ERR_SERVICE_TX_NONCE_TOO_LOW')
        expect(await client.service.txPool.add(tx(1n))).toBe(true)
      } finally {
        await client.stop()
      }
    } finally {
      dir.remove()
    }
  })

  it('the node CLI exits with the in-use error instead of starting a second node', async () => {
    const dir = tempDir('datadir-cli')
    const { client } = await startNode({ dataDir: dir.path, discV4: false })
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/client/bin/node.ts'), '--dataDir', dir.path, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code).toBe(1)
      expect(stderr).toContain(`${dir.path} is in use by another process`)
    } finally {
      await client.stop()
      dir.remove()
    }
  })

  it('the node CLI closes its dataDir on SIGTERM: exits 0, keeps its key, the lock is free again', async () => {
    const dir = tempDir('datadir-sigterm')
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/client/bin/node.ts'), '--dataDir', dir.path, '--port', '0', '--bindAddress', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      let stdout = ''
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString()
          const m = /enode: (enode:\S+)/.exec(stdout)
          if (m !== null) resolve(m[1]!)
        })
        child.once('exit', (code) => reject(new Error(`node exited with ${code} before listening: ${stdout}`)))
      })
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(stdout).toContain('stopped')
      const config = new Config({ common: testCommon(), dataDir: dir.path, port: 0, discV4: false })
      expect(Buffer.from(config.nodeId).toString('hex')).toBe(enodeId(url))
      const client = await EthereumClient.create({ config })
      await client.stop()
    } finally {
      dir.remove()
    }
  })

  it('a restarted node seeds its discovery table from the remembered nodes', async () => {
    const dir = tempDir('datadir-disc')
    const other = await startNode({ discV4: true })
    try {
      let connected: Promise<Peer> | undefined
      const first = await startNode({ discV4: true, dataDir: dir.path, bootnodes: [other.url], beforeStart: (c) => void (connected = nextPeer(c, enodeId(other.url))) })
      await connected
      await first.client.stop()
      expect(first.client.dataDir!.nodes.get(enodeId(other.url))?.udpPort).toBeGreaterThan(0)

      let discovered: Promise<unknown> | undefined
      const watch = (c: EthereumClient): void =>
        void (discovered = c.config.events.waitFor(Event.PEER_DISCOVERED, { timeoutMs: WAIT_MS, filter: (p) => p.id === enodeId(other.url) }))
      const second = await startNode({ discV4: true, dataDir: dir.path, beforeStart: watch })
      try {
        await discovered
        expect(second.client.server.dpt?.getPeers().some((p) => p.id !== undefined && Buffer.from(p.id).toString('hex') === enodeId(other.url))).toBe(true)
      } finally {
        await second.client.stop()
      }
    } finally {
      await other.client.stop()
      dir.remove()
    }
  })

  for (const useP2PServer of [false, true]) {
    it(`${useP2PServer ? 'P2P' : 'RLPx'}: a restarted node keeps its enode id and dials the peer it had a session with, without bootnodes`, async () => {
      const dir = tempDir('datadir-restart')
      const other = await startNode({ useP2PServer, discV4: false })
      try {
        // Subscribed before start(): the session may begin while start() runs.
        let connected: Promise<Peer> | undefined
        const watch = (client: EthereumClient): void => void (connected = nextPeer(client, enodeId(other.url)))
        const first = await startNode({ useP2PServer, discV4: false, dataDir: dir.path, bootnodes: [other.url], beforeStart: watch })
        await connected
        await first.client.stop()

        const second = await startNode({ useP2PServer, discV4: false, dataDir: dir.path, beforeStart: watch })
        try {
          expect(enodeId(second.url)).toBe(enodeId(first.url))
          const peer = await connected!
          expect(peer.inbound).toBe(false)
        } finally {
          await second.client.stop()
        }
      } finally {
        await other.client.stop()
        dir.remove()
      }
    })
  }
})
