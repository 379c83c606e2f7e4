import { keccak_256 } from '@noble/hashes/sha3.js'
import { type Address, createAddressFromPrivateKey, utf8ToBytes } from '@ethereumjs/util'

/**
 * Funded test accounts of every custom chain. Their keys are public by construction
 * (keccak-256 of a fixed label), so they are only ever meant for local test networks.
 */
export interface TestAccount {
  readonly label: string
  readonly privateKey: Uint8Array
  readonly address: Address
}

/** How many accounts the genesis funds: enough for several independent senders per block. */
export const TEST_ACCOUNT_COUNT = 16

/** Balance of every funded account: 1,000,000 ether, far beyond what any test spends. */
export const TEST_ACCOUNT_BALANCE = 10n ** 24n

const LABEL_PREFIX = 'ethp2p/test-account/'

/** Derives the key of test account `index` deterministically. */
export function testAccountKey(index: number): Uint8Array {
  return keccak_256(utf8ToBytes(`${LABEL_PREFIX}${index}`))
}

function deriveAccounts(): readonly TestAccount[] {
  const out: TestAccount[] = []
  for (let i = 0; i < TEST_ACCOUNT_COUNT; i++) {
    const privateKey = testAccountKey(i)
    out.push(Object.freeze({ label: `${LABEL_PREFIX}${i}`, privateKey, address: createAddressFromPrivateKey(privateKey) }))
  }
  return Object.freeze(out)
}

/** The funded accounts, in index order. */
export const testAccounts: readonly TestAccount[] = deriveAccounts()
