import { RLP } from '@ethereumjs/rlp'
import { afterEach, describe, expect, it } from 'vitest'
import { MPLEX_PROTOCOL_ID } from '../../../src/p2p/muxer'
import { mssHandle, mssSelect } from '../../../src/p2p/multistream'
import { HEADER_MESSAGE } from '../../../src/p2p/multistream/messages'
import {
  DISCONNECT_MSG,
  RlpxConnectionLostError,
  RlpxMuxer,
  classifyFirstFrame,
  encodeDisconnect,
  encodeHello,
  encodeMessageId,
  isRlpxFirstFrame,
  isRlpxHello,
  readFirstFrame,
} from '../../../src/p2p/rlpx'
import { AbortError } from '../../../src/p2p/errors'
import { within } from '../../utils/sockets'
import { ETH68, nodeKey, securePair } from './helpers'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

const frame = (id: number, payload: Uint8Array): Uint8Array => Buffer.concat([encodeMessageId(id), payload])

describe('first-frame classification', () => {
  it('tells an RLPx Hello or Disconnect from multistream-select by its first bytes', () => {
    const hello = frame(0, encodeHello({ protocolVersion: 5, clientId: 'x', capabilities: [ETH68], listenPort: 0, nodeId: nodeKey().id }))
    expect(classifyFirstFrame(hello)).toBe('rlpx')
    expect(isRlpxHello(hello)).toBe(true)
    const disconnect = frame(DISCONNECT_MSG, encodeDisconnect(4))
    expect(classifyFirstFrame(disconnect)).toBe('rlpx')
    expect(isRlpxHello(disconnect)).toBe(false)
    // what our dialer sends first: the multistream header and the mplex proposal in one write
    const mss = Buffer.concat([HEADER_MESSAGE, Buffer.from([MPLEX_PROTOCOL_ID.length + 1]), Buffer.from(`${MPLEX_PROTOCOL_ID}\n`)])
    expect(classifyFirstFrame(mss)).toBe('multistream')
    expect(isRlpxHello(mss)).toBe(false)
    for (const bytes of [[], [0x80], [0x80, 0x13], [0x01, 0x0a], [0x00, 0xc0], [0x81, 0xc0], [0x13, 0x2f]]) expect(isRlpxFirstFrame(Uint8Array.from(bytes))).toBe(false)
    // Any other message before Hello is still RLPx (the session refuses it: PROTOCOL_ERROR), not multistream-select.
    expect(classifyFirstFrame(frame(0x02, Uint8Array.of(0xc0)))).toBe('rlpx')
    expect(isRlpxHello(Uint8Array.of(0x02, 0xc0))).toBe(false)
    expect(isRlpxHello(Uint8Array.of(0x80, 0xc0))).toBe(true)
  })

  it('listener: a multistream first frame goes back as bytes, and negotiation carries on', async () => {
    const pair = await securePair()
    cleanup.push(pair.close)
    const selecting = mssSelect(pair.dialer, [MPLEX_PROTOCOL_ID])
    const first = await within(readFirstFrame(pair.listener), 'first frame')
    expect(classifyFirstFrame(first)).toBe('multistream')
    pair.listener.readBytes([first])
    const [selected, handled] = await within(Promise.all([selecting, mssHandle(pair.listener, [MPLEX_PROTOCOL_ID])]), 'negotiation')
    expect([selected.protocol, handled.protocol]).toEqual([MPLEX_PROTOCOL_ID, MPLEX_PROTOCOL_ID])
  })

  it('listener: an RLPx first frame goes to the session as its first message', async () => {
    const pair = await securePair()
    cleanup.push(pair.close)
    const dialing = RlpxMuxer.handshake(pair.dialer, { localId: pair.dialerKey.id, remoteId: pair.listenerKey.id, direction: 'outbound', capabilities: [ETH68] })
    const first = await within(readFirstFrame(pair.listener), 'first frame')
    expect(classifyFirstFrame(first)).toBe('rlpx')
    const [dialer, listener] = await within(
      Promise.all([
        dialing,
        RlpxMuxer.handshake(pair.listener, { localId: pair.listenerKey.id, remoteId: pair.dialerKey.id, direction: 'inbound', capabilities: [ETH68], firstFrame: first }),
      ]),
      'Hello exchange',
    )
    cleanup.push(() => dialer.abort(new Error('cleanup')), () => listener.abort(new Error('cleanup')))
    expect(Buffer.from(listener.remoteHello!.nodeId).equals(Buffer.from(pair.dialerKey.id))).toBe(true)
    expect(listener.capabilities.map((c) => c.protocol)).toEqual(['/eth/68/1.0.0'])
  })

  it('dialer: recognises a Hello answer', async () => {
    const pair = await securePair()
    cleanup.push(pair.close)
    const listening = RlpxMuxer.handshake(pair.listener, { localId: pair.listenerKey.id, remoteId: pair.dialerKey.id, direction: 'inbound', capabilities: [ETH68], helloTimeoutMs: 50 })
    listening.catch(() => {})
    const first = await within(readFirstFrame(pair.dialer), 'first frame')
    expect(isRlpxHello(first)).toBe(true)
    expect((RLP.decode(first.subarray(1)) as unknown[]).length).toBe(5)
  })

  it('rejects when the channel ends first or the signal fires', async () => {
    const pair = await securePair()
    cleanup.push(pair.close)
    const reading = readFirstFrame(pair.listener)
    pair.dialer.end()
    await expect(within(reading, 'first frame')).rejects.toBeInstanceOf(RlpxConnectionLostError)
    const other = await securePair()
    cleanup.push(other.close)
    const controller = new AbortController()
    const aborted = readFirstFrame(other.listener, { signal: controller.signal })
    controller.abort()
    await expect(aborted).rejects.toBeInstanceOf(AbortError)
  })
})
