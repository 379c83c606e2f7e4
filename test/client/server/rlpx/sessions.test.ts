import { type AddressInfo, type Socket, connect, createServer } from 'node:net'

import { ETH } from '@ethereumjs/devp2p'
import { utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { withClientEth } from '../../../../src/client/net/server/rlpx/devp2p'
import { RlpxSessions, type Session } from '../../../../src/client/net/server/rlpx/sessions'
import { nextEvent } from '../../helpers/waits'
import { testCommon } from '../../helpers/nodes'

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function sessions(handshakeTimeoutMs = 10_000): RlpxSessions {
  const key = secp.randomSecretKey()
  const s = new RlpxSessions({
    privateKey: key,
    nodeId: getPublicKey(key, false).subarray(1),
    clientId: utf8ToBytes('rlpxsessions-test'),
    capabilities: withClientEth([ETH.eth68]),
    common: testCommon(),
    listenPort: 0,
    dialTimeoutMs: 10_000,
    handshakeTimeoutMs,
    pingTimeoutMs: 10_000,
  })
  cleanups.push(() => s.closeAll(0))
  return s
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('RlpxSessions', () => {
  it("reports a dial that never reached Hello as 'aborted' (outbound, not closed by us), freeing its slot", async () => {
    const s = sessions()
    const aborted = nextEvent<[Session]>(s, 'aborted')
    s.dial('127.0.0.1', await closedPort(), new Uint8Array(64).fill(7))
    expect(s.size).toBe(1)
    expect(s.has('07'.repeat(64))).toBe(true)
    const [session] = await aborted
    expect(session.outbound).toBe(true)
    expect(session.closing).toBe(false)
    expect(session.up).toBe(false)
    expect(s.size).toBe(0)
  })

  it("reports an inbound connection that stays silent past the handshake deadline as 'aborted'", async () => {
    const s = sessions(50)
    const server = createServer((socket) => s.accept(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const silent: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
    silent.on('error', () => undefined) // the session destroying its end is what this test provokes
    cleanups.push(async () => void silent.destroy())
    const [session] = await nextEvent<[Session]>(s, 'aborted')
    expect(session.outbound).toBe(false)
    expect(session.up).toBe(false)
    expect(s.size).toBe(0)
  })
})
