import { RLP } from '@ethereumjs/rlp'
import type { CapabilityName } from './capabilities'
import { RlpxMalformedMessageError } from './errors'
import { invalidHelloIdentity } from './identity'
import { uintFromBytes } from './message'

/**
 * The Hello message of the "p2p" base protocol:
 *
 *   [protocolVersion, clientId, [[cap, version], ...], listenPort, nodeId, ...]
 *
 * Decoding follows the spec's forward-compatibility rules: extra list
 * elements (and extra elements in a capability entry) are ignored, a higher
 * protocol version is accepted as it is.
 */
export interface Hello {
  protocolVersion: number
  clientId: string
  capabilities: CapabilityName[]
  /** Legacy field (the spec says to ignore it); 0 means not listening. */
  listenPort: number
  /** The sender's 64-byte public key; must equal the ECIES-authenticated id. */
  nodeId: Uint8Array
}

const utf8 = new TextDecoder()

export function encodeHello(hello: Hello): Uint8Array {
  return RLP.encode([
    hello.protocolVersion,
    hello.clientId,
    hello.capabilities.map((c) => [c.name, c.version]),
    hello.listenPort,
    hello.nodeId,
  ])
}

/**
 * Decodes a Hello payload. Throws RlpxMalformedMessageError for bad RLP or
 * field types, RlpxInvalidIdentityError for a node id that is not 64 non-zero
 * bytes (invalidHelloIdentity, geth's DiscInvalidIdentity check; `authenticated`,
 * the remote's ECIES key, only goes into that error).
 */
export function decodeHello(data: Uint8Array, authenticated?: Uint8Array): Hello {
  let items: unknown
  try {
    items = RLP.decode(data)
  } catch (err) {
    throw new RlpxMalformedMessageError('Hello is not valid RLP', { cause: err })
  }
  if (!Array.isArray(items) || items.length < 5) throw new RlpxMalformedMessageError('Hello is not a list of at least 5 items')
  const [version, clientId, caps, port, nodeId] = items as unknown[]
  const hello: Hello = {
    protocolVersion: uint(version, 'protocol version'),
    clientId: utf8.decode(bytes(clientId, 'client id')),
    capabilities: capabilityList(caps),
    // The spec says to ignore this field; devp2p sends port 0 as 0x00, so anything unreadable is 0.
    listenPort: port instanceof Uint8Array ? (uintFromBytes(port, true) ?? 0) : 0,
    nodeId: bytes(nodeId, 'node id'),
  }
  const invalid = invalidHelloIdentity(hello.nodeId, authenticated)
  if (invalid !== undefined) throw invalid
  return hello
}

function capabilityList(item: unknown): CapabilityName[] {
  if (!Array.isArray(item)) throw new RlpxMalformedMessageError('Hello capabilities are not a list')
  return item.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length < 2) throw new RlpxMalformedMessageError('Hello capability is not a [name, version] list')
    return { name: utf8.decode(bytes(entry[0], 'capability name')), version: uint(entry[1], 'capability version') }
  })
}

function bytes(item: unknown, what: string): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new RlpxMalformedMessageError(`Hello ${what} is not a byte string`)
  return item
}

/** Integers of a Hello; leading zeros are tolerated (some clients send them), sizes above 2^48 are not. */
function uint(item: unknown, what: string): number {
  const v = uintFromBytes(bytes(item, what), true)
  if (v === undefined) throw new RlpxMalformedMessageError(`Hello ${what} is not an integer below 2^48`)
  return v
}
