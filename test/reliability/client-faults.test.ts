import { expect } from 'vitest'
import { ClientError } from '../../src/client/errors'
import { RequestTimeoutError } from '../../src/client/net/protocol/errors'
import { Event } from '../../src/client/types'
import * as secp from '@noble/secp256k1'
import { FaultProxy, type ProxyConnection } from '../utils/fault-proxy'
import { waitUntil, within } from '../utils/sockets'
import { type ClientNode, connectedPeer, enodeVia, nextEvent, startClientNode } from './client-fixture'
import { badInputTable } from './table'

/**
 * Node-level faults between two P2PServer clients: A reaches B through the
 * fault proxy (its bootnode entry names the proxy's port), discovery runs
 * on both. Request timeouts are long on purpose: a failure that arrives
 * must come from the fault being detected, not from a timer running out.
 */

const REQUEST_TIMEOUT_MS = 60_000

/** Two node keys, the first with the smaller node id: the simultaneous-dial tie-break keeps that node's dial. */
function orderedKeys(): [Uint8Array, Uint8Array] {
  const keys = [secp.utils.randomSecretKey(), secp.utils.randomSecretKey()]
  const id = (k: Uint8Array): string => Buffer.from(secp.getPublicKey(k, false).subarray(1)).toString('hex')
  keys.sort((x, y) => (id(x) < id(y) ? -1 : 1))
  return [keys[0]!, keys[1]!]
}

/**
 * A dials B through the proxy (its bootnode entry names the proxy's port).
 * With discovery, B also learns A's real address and may dial it at the
 * same moment; A has the smaller id, so the tie-break keeps A's proxied dial.
 */
async function pair(discV4: boolean): Promise<{ a: ClientNode; b: ClientNode; proxy: FaultProxy; close(): Promise<void> }> {
  const [keyA, keyB] = orderedKeys()
  const common = { discV4, discoveryRefreshMs: 500, requestTimeoutMs: REQUEST_TIMEOUT_MS }
  const b = await startClientNode({ ...common, key: keyB, blocks: 8 })
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: b.tcpPort } })
  let a: ClientNode | undefined
  const close = async (): Promise<void> => {
    await a?.stop()
    await b.stop()
    await proxy.close()
  }
  try {
    const bConnected = nextEvent(b, Event.PEER_CONNECTED)
    a = await startClientNode({ ...common, key: keyA, bootnodes: [enodeVia(b, proxy.address().port)] })
    const peer = await connectedPeer(a, b.id)
    await bConnected
    // The session that survived is the one through the proxy.
    expect(peer.address).toBe(`127.0.0.1:${proxy.address().port}`)
    return { a, b, proxy, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** Resolves once `node`'s discovery table holds `other`. */
function knows(node: ClientNode, other: ClientNode): Promise<void> {
  const dpt = node.server.dpt!
  const has = (): boolean => dpt.getPeers().some((p) => p.id !== undefined && Buffer.from(p.id).toString('hex') === other.id)
  return waitUntil(dpt.events, ['peer:added'], has, `${node.id.slice(0, 8)} to discover ${other.id.slice(0, 8)}`)
}

/** The live proxied connection (the first one may have been a duplicate closed by the tie-break). */
function liveWire(proxy: FaultProxy): ProxyConnection {
  const open = proxy.open
  expect(open.length).toBe(1)
  return open[0]!
}

badInputTable('node', 'two clients through the fault proxy', [
  {
    case: 'connection cut mid-frame while getBlockHeaders is in flight',
    expected: `the request fails at once with a typed ClientError (not RequestTimeoutError after ${REQUEST_TIMEOUT_MS / 1000} s); both sides report PEER_DISCONNECTED`,
    timeoutMs: 90_000,
    run: async () => {
      const { a, b, proxy, close } = await pair(false)
      try {
        const peer = await connectedPeer(a, b.id)
        expect((await peer.eth!.getBlockHeaders({ block: 0n, max: 3 })).length).toBe(3)
        const disconnected = Promise.all([
          nextEvent(a, Event.PEER_DISCONNECTED, (p) => p.id === b.id),
          nextEvent(b, Event.PEER_DISCONNECTED, (p) => p.id === a.id),
        ])
        const wire = liveWire(proxy)
        wire.setFaults('up', { cutAfterBytes: wire.stats('up').received + 10 })
        const err = await within(
          peer.eth!.getBlockHeaders({ block: 0n, max: 8 }).then(
            () => new Error('the request succeeded through a cut connection'),
            (e: unknown) => e as Error,
          ),
          'the in-flight request to fail',
        )
        expect(err, `untyped failure: ${String(err)}`).toBeInstanceOf(ClientError)
        expect(err).not.toBeInstanceOf(RequestTimeoutError)
        expect(typeof (err as ClientError).code).toBe('string')
        await disconnected
      } finally {
        await close()
      }
    },
  },
  {
    case: 'connection cut between two discovered peers',
    expected: 'A reconnects to B through discovery (PEER_CONNECTED again) and requests work again',
    timeoutMs: 90_000,
    run: async () => {
      const { a, b, proxy, close } = await pair(true)
      try {
        // Both discovery tables hold the other node before the cut, so a late first report cannot pass for a reconnect.
        await Promise.all([knows(a, b), knows(b, a)])
        const disconnected = nextEvent(a, Event.PEER_DISCONNECTED, (p) => p.id === b.id)
        liveWire(proxy).cut('up', 'fin')
        await disconnected
        const again = await within(connectedPeer(a, b.id), 'A and B to reconnect')
        expect((await again.eth!.getBlockHeaders({ block: 1n, max: 2 })).map((h) => h.number)).toEqual([1n, 2n])
      } finally {
        await close()
      }
    },
  },
])
