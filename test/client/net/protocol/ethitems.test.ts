import { RLP } from '@ethereumjs/rlp'
import { createLegacyTx } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { describe, expect, it } from 'vitest'

import { testAccounts } from '../../../../src/chain-config'
import { ServiceError } from '../../../../src/client/errors'
import { EthCodecError } from '../../../../src/client/net/protocol/errors'
import { EthCode, decodeEthPayload, encodeEthPayload } from '../../../../src/client/net/protocol/ethmessages'
import { decodeTx } from '../../../../src/client/net/protocol/ethitems'
import { TxPool } from '../../../../src/client/service/txpool'
import { TX_KINDS, type TxKind, makeTestTx } from '../../../../src/client/testing/testchain'
import { expectRejectsTyped } from '../../../reliability/table'
import { TEST_CHAIN_ID, testCommon } from './fixtures'

import type { TypedTransaction } from '@ethereumjs/tx'

/** Another chain: mainnet's id, which a relaying peer may well have seen a transaction of. */
const OTHER_CHAIN_ID = 1

function txOn(chainId: number, kind: TxKind, index: number): TypedTransaction {
  return makeTestTx(testCommon(chainId), { kind, from: testAccounts[index % testAccounts.length]!, nonce: BigInt(index), seed: 'ethitems', index })
}

/** The wire item of `tx` in a Transactions message, as a remote sends it. */
function wire(tx: TypedTransaction): Uint8Array | Uint8Array[] {
  const payload = encodeEthPayload('Transactions', { txs: [tx] }, { version: 68, common: tx.common })
  return (payload as (Uint8Array | Uint8Array[])[])[0]!
}

describe('decodeTx: the chain id is not judged by the decoder', () => {
  it.each(TX_KINDS)('a %s transaction signed for another chain decodes as that chain’s, signature intact', (kind) => {
    const ours = testCommon()
    const foreign = txOn(OTHER_CHAIN_ID, kind, 3)
    const decoded = decodeTx(wire(foreign), ours, 'broadcast', 'tx')
    expect(decoded.common.chainId()).toBe(BigInt(OTHER_CHAIN_ID))
    expect(bytesToHex(decoded.hash())).toBe(bytesToHex(foreign.hash()))
    expect(decoded.verifySignature()).toBe(true)
    expect(bytesToHex(decoded.getSenderAddress().bytes)).toBe(bytesToHex(foreign.getSenderAddress().bytes))
    // Our Common is left as it was.
    expect(ours.chainId()).toBe(BigInt(TEST_CHAIN_ID))
  })

  it('the pool refuses such a transaction with a typed error naming both chains', async () => {
    const pool = new TxPool({ common: testCommon(), maxSize: 16 })
    const decoded = decodeTx(wire(txOn(OTHER_CHAIN_ID, '1559-transfer', 1)), testCommon(), 'broadcast', 'tx')
    const err = await expectRejectsTyped(pool.add(decoded), ServiceError, 'ERR_SERVICE_TX_INVALID')
    expect(err.message).toBe(`transaction is for chain ${OTHER_CHAIN_ID}, not ${TEST_CHAIN_ID}`)
    expect(pool.size).toBe(0)
  })

  it('a Transactions message mixing chains decodes whole, each transaction with its own chain', () => {
    const txs = [txOn(TEST_CHAIN_ID, 'legacy-transfer', 0), txOn(OTHER_CHAIN_ID, '1559-log', 1), txOn(TEST_CHAIN_ID, '2930-log', 2)]
    const payload = RLP.encode(txs.map(wire))
    const msg = decodeEthPayload(EthCode.Transactions, payload, { version: 68, common: testCommon() })
    const decoded = (msg.data as { txs: TypedTransaction[] }).txs
    expect(decoded.map((t) => bytesToHex(t.hash()))).toEqual(txs.map((t) => bytesToHex(t.hash())))
    expect(decoded.map((t) => t.common.chainId())).toEqual([BigInt(TEST_CHAIN_ID), BigInt(OTHER_CHAIN_ID), BigInt(TEST_CHAIN_ID)])
  })

  it('a pre-EIP-155 legacy transaction (v 27/28, no chain) decodes on our chain', () => {
    const unprotected = createLegacyTx({ nonce: 0n, gasPrice: 10n, gasLimit: 21_000n, to: `0x${'11'.repeat(20)}`, value: 1n }, { common: testCommon() }).sign(
      testAccounts[0]!.privateKey,
      false,
    )
    // v rewritten to 28 as an unprotected signature carries it (decoding does not check the signature).
    const raw = unprotected.raw() as Uint8Array[]
    raw[6] = Uint8Array.of(28)
    const decoded = decodeTx(raw, testCommon(), 'broadcast', 'tx')
    expect(decoded.common.chainId()).toBe(BigInt(TEST_CHAIN_ID))
  })

  it('a malformed transaction still fails with EthCodecError, whatever chain id it names', () => {
    const foreign = txOn(OTHER_CHAIN_ID, '1559-transfer', 4)
    const typed = wire(foreign) as Uint8Array
    // Cut the envelope short: the chain id is still readable, the transaction is not.
    const truncated = typed.subarray(0, typed.length - 10)
    expect(() => decodeEthPayload(EthCode.Transactions, RLP.encode([truncated]), { version: 68, common: testCommon() })).toThrow(EthCodecError)
  })
})
