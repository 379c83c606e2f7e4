import { createHook } from 'node:async_hooks'

import { afterEach, describe, expect, it } from 'vitest'

import { Config } from '../../../src/client/config'
import { ServerError } from '../../../src/client/errors'
import { Discovery } from '../../../src/client/net/server/discovery'
import { expectResourcesBackTo } from '../../p2p/stack/helpers'
import { testCommon } from '../helpers/nodes'

import type { PeerInfo } from '@ethereumjs/devp2p'

const opened: Discovery[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()))
})

function config(discPort = 0): Config {
  return new Config({ common: testCommon(), port: 0, discPort, bindAddress: '127.0.0.1' })
}

async function start(cfg = config(), found: PeerInfo[] = []): Promise<Discovery> {
  const d = await Discovery.start({
    config: cfg,
    key: cfg.key,
    tcpPort: 30_303,
    onPeer: (info) => void found.push(info),
    onSocketError: (err) => {
      throw new ServerError('ERR_SERVER_DISCOVERY', `unexpected discovery socket error: ${err.message}`)
    },
  })
  opened.push(d)
  return d
}

describe('Discovery', () => {
  it('binds an ephemeral UDP port and announces it with the TCP port in its endpoint', async () => {
    const d = await start()
    expect(d.udpPort).toBeGreaterThan(0)
    expect(d.dpt.getPeers()).toEqual([])
  })

  it('rejects when the UDP port is taken, and holds nothing afterwards', async () => {
    const first = await start()
    const baseline = process.getActiveResourcesInfo()
    const err = await start(config(first.udpPort)).then(() => undefined, (e: unknown) => e)
    expect((err as { code?: string }).code).toBe('EADDRINUSE')
    expect(await expectResourcesBackTo(baseline)).toEqual([])
  })

  it('close() also outlasts the report timer devp2p arms for a ping from an unknown node', async () => {
    const timers = devp2pTimers()
    try {
      const a = await start()
      const b = await start()
      // b pings a; a does not know b yet, so devp2p arms its 100 ms report timer (no handle to clear it).
      await b.dpt.bootstrap({ id: a.dpt.id!, address: '127.0.0.1', udpPort: a.udpPort, tcpPort: 30_303 })
      expect(timers.created()).toBeGreaterThan(0)
      await Promise.all([a.close(), b.close(), a.close()])
      expect(await timers.pending()).toEqual([])
    } finally {
      timers.stop()
    }
  })
})

/**
 * Timers created from @ethereumjs/devp2p code, tracked through async_hooks:
 * `pending()` lists (by creation site) those neither fired nor cleared yet.
 * Counting process-wide resources cannot tell them apart from the test
 * runner's own timers coming and going.
 */
function devp2pTimers(): { created(): number; pending(): Promise<string[]>; stop(): void } {
  const live = new Map<number, string>()
  let created = 0
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return
      const site = (new Error().stack ?? '').split('\n').find((line) => line.includes('@ethereumjs/devp2p'))
      if (site === undefined) return
      created++
      live.set(id, site.trim())
    },
    destroy(id) {
      live.delete(id)
    },
  }).enable()
  return {
    created: () => created,
    async pending() {
      // Destroy hooks run asynchronously after a timer fires or is cleared: give them a few turns.
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
      return [...live.values()]
    },
    stop: () => void hook.disable(),
  }
}
