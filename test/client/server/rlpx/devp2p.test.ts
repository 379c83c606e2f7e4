import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net'

import { ETH } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, utf8ToBytes } from '@ethereumjs/util'
import { getPublicKey, utils as secp } from '@noble/secp256k1'
import { afterEach, describe, expect, it } from 'vitest'

import { AuthenticatedPeer, authenticatedRemoteId, withClientEth } from '../../../../src/client/net/server/rlpx/devp2p'
import { UnexpectedHelloIdError } from '../../../../src/client/net/server/rlpx/identity'
import { DisconnectReason } from '../../../../src/p2p'
import { dialWithForgedHello } from '../../helpers/raw-peers'
import { testCommon } from '../../helpers/nodes'
import { nextEvent } from '../../helpers/waits'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function keys(): { key: Uint8Array; id: Uint8Array } {
  const key = secp.randomSecretKey()
  return { key, id: getPublicKey(key, false).subarray(1) }
}

function session(socket: Socket, own: { key: Uint8Array; id: Uint8Array }, remoteId: Uint8Array | null): AuthenticatedPeer {
  const peer = new AuthenticatedPeer({
    socket,
    remoteId: remoteId as Uint8Array,
    privateKey: own.key,
    id: own.id,
    timeout: 10_000,
    clientId: utf8ToBytes('devp2p-adapter-test'),
    capabilities: withClientEth([ETH.eth68]),
    common: testCommon(),
    port: 0,
  })
  peer.events.on('error', () => undefined)
  return peer
}

/** A loopback listener handing each accepted socket to `onSocket`. */
async function listen(onSocket: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
    onSocket(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as AddressInfo).port
}

describe('authenticatedRemoteId (the one read of devp2p’s ECIES key)', () => {
  it('is the remote’s real key on both ends of a devp2p session, and null on an accepted one before its auth', async () => {
    const acceptorKeys = keys()
    const dialerKeys = keys()
    let accept: (s: Socket) => void = () => undefined
    const acceptedSocket = new Promise<Socket>((resolve) => (accept = resolve))
    const port = await listen((s) => accept(s))
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => undefined)
    cleanups.push(async () => void socket.destroy())
    await nextEvent(socket, 'connect')
    const dialer = session(socket, dialerKeys, acceptorKeys.id)
    // A dialer knows the key it dialed from the start; the ack and the first frame prove it.
    expect(bytesToUnprefixedHex(authenticatedRemoteId(dialer)!)).toBe(bytesToUnprefixedHex(acceptorKeys.id))
    // Bytes reach devp2p on a later tick: right after construction the auth is not read yet.
    const acceptor = session(await acceptedSocket, acceptorKeys, null)
    expect(authenticatedRemoteId(acceptor)).toBeNull()
    await Promise.all([nextEvent(acceptor.events as never, 'connect'), nextEvent(dialer.events as never, 'connect')])
    expect(bytesToUnprefixedHex(authenticatedRemoteId(acceptor)!)).toBe(bytesToUnprefixedHex(dialerKeys.id))
    expect(bytesToUnprefixedHex(acceptor.getId()!)).toBe(bytesToUnprefixedHex(dialerKeys.id))
    expect(bytesToUnprefixedHex(authenticatedRemoteId(dialer)!)).toBe(bytesToUnprefixedHex(acceptorKeys.id))
    expect(acceptor.identityError).toBeUndefined()
  })
})

describe('AuthenticatedPeer', () => {
  it('keeps the name devp2p dispatches base-protocol messages by', () => {
    expect(AuthenticatedPeer.name).toBe('Peer')
  })

  it('refuses a Hello naming another key before devp2p adopts it: getId() stays null, no capability is instantiated', async () => {
    const acceptorKeys = keys()
    const impostor = keys()
    const claimed = keys().id
    let onAccepted: (p: AuthenticatedPeer) => void = () => undefined
    const accepted = new Promise<AuthenticatedPeer>((resolve) => (onAccepted = resolve))
    const port = await listen((s) => onAccepted(session(s, acceptorKeys, null)))
    const url = `enode://${bytesToUnprefixedHex(acceptorKeys.id)}@127.0.0.1:${port}?discport=0`
    const outcome = dialWithForgedHello(url, { key: impostor.key, helloId: claimed, common: testCommon() })
    const acceptor = await accepted
    const refused = nextEvent<[UnexpectedHelloIdError]>(acceptor.events as never, 'identity').then(([e]) => e)
    const err = await refused
    expect(err).toBeInstanceOf(UnexpectedHelloIdError)
    expect(err.authenticatedId).toBe(bytesToUnprefixedHex(impostor.id))
    expect(err.claimedId).toBe(bytesToUnprefixedHex(claimed))
    expect(acceptor.identityError).toBe(err)
    expect(acceptor.getId()).toBeNull()
    expect(acceptor.getHelloMessage()).toBeNull()
    expect(acceptor.getProtocols()).toEqual([])
    expect(await outcome).toEqual({ reason: DisconnectReason.UNEXPECTED_IDENTITY, gotHello: true, ethMessages: 0 })
  })
})
