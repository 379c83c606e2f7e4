import { afterEach, describe, expect, it } from 'vitest'

import { StreamEthProtocol, UnknownStreamProtocolError, ethStreamProtocolId, ethVersionOf } from '../../../../src/client/net/protocol/streamethprotocol'
import { Registrar } from '../../../../src/p2p'
import { duplexPair } from '../../../utils/duplex-pair'
import { makeChain, makeConfig } from './helpers'

const closers: Array<() => void> = []

afterEach(() => {
  for (const c of closers.splice(0)) c()
})

async function protocol(): Promise<StreamEthProtocol> {
  const config = makeConfig()
  return new StreamEthProtocol({ config, chain: await makeChain(0) })
}

describe('StreamEthProtocol', () => {
  it('names eth/70 down to eth/66 as stream protocol ids, highest first', async () => {
    const p = await protocol()
    expect(p.protocolIds).toEqual(['/eth/70/1.0.0', '/eth/69/1.0.0', '/eth/68/1.0.0', '/eth/67/1.0.0', '/eth/66/1.0.0'])
    expect(ethStreamProtocolId(67)).toBe('/eth/67/1.0.0')
    expect(ethVersionOf('/eth/66/1.0.0')).toBe(66)
    for (const bad of ['/eth/65/1.0.0', '/eth/68/2.0.0', '/eth/68', 'eth/68/1.0.0', '/snap/1/1.0.0', '/eth/068/1.0.0x']) {
      expect(ethVersionOf(bad)).toBeUndefined()
    }
  })

  it('registers one handler per version, one stream each way per connection, and unregisters them', async () => {
    const p = await protocol()
    const registrar = new Registrar()
    p.register(registrar, () => undefined)
    expect(registrar.getProtocols()).toEqual(p.protocolIds)
    for (const id of p.protocolIds) expect(registrar.getLimits(id)).toEqual({ maxInboundStreams: 1, maxOutboundStreams: 1 })
    expect(() => p.register(registrar, () => undefined)).toThrow(/already registered/)
    p.unregister(registrar)
    expect(registrar.getProtocols()).toEqual([])
  })

  it('wraps a stream in a StreamSender of the negotiated version with the configured message limit', async () => {
    const p = await protocol()
    const [a, b] = duplexPair()
    closers.push(() => a.destroy(), () => b.destroy())
    const sender = p.createSender(a, '/eth/67/1.0.0')
    closers.push(() => sender.close())
    expect(sender.version).toBe(67)
    expect(sender.maxMessageSize).toBe(p.config.maxMessageSize)
    expect(() => p.createSender(b, '/eth/65/1.0.0')).toThrow(UnknownStreamProtocolError)
    expect(() => p.createSender(b, undefined)).toThrow(UnknownStreamProtocolError)
  })
})
