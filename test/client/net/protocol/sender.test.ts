import { RLP } from '@ethereumjs/rlp'
import { describe, expect, it } from 'vitest'

import { SenderBufferOverflowError } from '../../../../src/client/net/protocol/errors'
import { EthCode, encodeEthPayload, encodeStatus, statusHead } from '../../../../src/client/net/protocol/ethmessages'
import { Event } from '../../../../src/client/types'
import { filled, loadTestChain } from './fixtures'
import { nextEvent } from '../../helpers/waits'
import { MemorySender, makeSide, nextMessages } from './harness'

import type { EthStatus } from '../../../../src/client/net/protocol/ethmessages'

const status: EthStatus = { version: 68, networkId: 1n, td: 0n, bestHash: filled(32, 1), genesisHash: filled(32, 2), forkId: { hash: filled(4, 3), next: 0n } }

async function closeEvent(sender: MemorySender): Promise<Error | undefined> {
  const [reason] = await nextEvent<[Error | undefined]>(sender, 'close')
  return reason
}

describe('Sender buffering', () => {
  it('holds everything that arrives before a consumer and delivers it in order on start()', () => {
    const s = new MemorySender(68)
    s.inject(0, RLP.encode(encodeStatus(status)))
    s.inject(EthCode.NewBlockHashes, RLP.encode([]))
    s.inject(EthCode.Transactions, RLP.encode([]))
    s.remoteClosed()
    const seen: string[] = []
    s.on('status', () => seen.push('status'))
    s.on('message', (m) => seen.push(`message:${m.code}`))
    s.on('close', () => seen.push('close'))
    s.on('error', () => seen.push('error'))
    expect(seen).toEqual([]) // nothing before start() (or the next microtask)
    s.start()
    expect(seen).toEqual(['status', `message:${EthCode.NewBlockHashes}`, `message:${EthCode.Transactions}`, 'close'])
  })

  it('a listener attached late still gets the reply (delivered on the next microtask)', async () => {
    const s = new MemorySender(68)
    s.inject(EthCode.BlockHeaders, RLP.encode([Uint8Array.of(5), []]))
    const [m] = await nextMessages(s, 1)
    expect(m.code).toBe(EthCode.BlockHeaders)
  })

  it('keeps arrival order when listeners attach one event at a time', async () => {
    const s = new MemorySender(68)
    s.inject(0, RLP.encode(encodeStatus(status)))
    s.inject(EthCode.Transactions, RLP.encode([]))
    s.inject(0, RLP.encode(encodeStatus({ ...status, td: 1n })))
    const seen: string[] = []
    s.on('status', (st) => seen.push(`status:${statusHead(st).td}`))
    s.start()
    // The message blocks the queue until someone listens for messages; the second Status waits behind it.
    expect(seen).toEqual(['status:0'])
    s.on('message', () => seen.push('message'))
    s.start()
    expect(seen).toEqual(['status:0', 'message', 'status:1'])
  })

  it('closes with SenderBufferOverflowError instead of growing without bound', async () => {
    const s = new MemorySender(68, { maxBuffered: 4 })
    for (let i = 0; i < 10; i++) s.inject(EthCode.Transactions, RLP.encode([]))
    expect(s.closed).toBe(true)
    const closed = closeEvent(s)
    const messages = nextMessages(s, 4)
    expect(await messages).toHaveLength(4)
    const reason = await closed
    expect(reason).toBeInstanceOf(SenderBufferOverflowError)
    expect((reason as SenderBufferOverflowError).code).toBe('ERR_ETH_SENDER_BUFFER_FULL')
  })

  it('ignores inbound items after close and reports close once', () => {
    const s = new MemorySender(68)
    const closes: unknown[] = []
    s.on('close', (r) => closes.push(r))
    s.on('message', () => closes.push('message'))
    s.close()
    s.remoteClosed()
    s.inject(EthCode.Transactions, RLP.encode([]))
    s.start()
    expect(closes).toEqual([undefined])
  })

  it("a request that arrives with the remote Status, before bind(), reaches the client bus", async () => {
    const side = await makeSide()
    const { chain } = await loadTestChain()
    const [local, remote] = MemorySender.pair(68)
    // The remote's Status and a request arrive before anyone is bound to `local`.
    local.inject(0, RLP.encode(encodeStatus(side.protocol.createStatus(68))))
    const request = { reqId: 77n, block: 1n, max: 2, skip: 0, reverse: false }
    local.inject(EthCode.GetBlockHeaders, RLP.encode(encodeEthPayload('GetBlockHeaders', request, { version: 68, common: side.config.common })))
    // The service answers through peer.eth: it must be set when the request is emitted.
    const delivered = new Promise<[unknown, string, unknown, boolean]>((resolve) =>
      side.config.events.once(Event.PROTOCOL_MESSAGE, (m, p, from) => resolve([m, p, from, from.eth !== undefined])),
    )
    await side.peer.bindProtocol(side.protocol, local)
    const eth = side.peer.eth!
    const [msg, protocolName, peer, ethWasSet] = await delivered
    expect(ethWasSet).toBe(true)
    expect(msg).toMatchObject({ name: 'GetBlockHeaders', code: EthCode.GetBlockHeaders, data: request })
    expect(protocolName).toBe('eth')
    expect(peer).toBe(side.peer)
    expect(chain.blocks.length).toBeGreaterThan(0)
    // The raw remote end takes our Status off its queue, so the 'close' behind it can be delivered.
    remote.on('status', () => {})
    const remoteClosed = closeEvent(remote)
    eth.close()
    expect(await remoteClosed).toBeInstanceOf(Error)
  })
})
