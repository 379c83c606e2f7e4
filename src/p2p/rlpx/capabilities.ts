import { RlpxInvalidOptionError } from './errors'
import { BASE_PROTOCOL_LENGTH, DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE } from './limits'

/**
 * Capabilities (sub-protocols) of an RLPx session and their message-id
 * layout. Each shared capability is offered to the layer above as a stream
 * whose protocol id is the modular stack's (`/eth/69/1.0.0`), so the same
 * handler serves it over mplex or over RLPx.
 */

/** A capability as announced in Hello: name (case-sensitive ASCII, ≤ 8 chars) and version. */
export interface CapabilityName {
  name: string
  version: number
}

/** A capability this node runs. */
export interface Capability extends CapabilityName {
  /** How many message ids it uses (eth/69: 18): fixes the offsets of the capabilities after it. */
  length: number
  /** Largest message (code byte plus uncompressed payload); default DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE. */
  maxMessageSize?: number
}

/** A capability both sides run, with its place in the message-id space. */
export interface SharedCapability extends CapabilityName {
  length: number
  maxMessageSize: number
  /** Its first message id: code c of this capability travels as offset + c. */
  offset: number
  /** The stream id the layer above knows it by, e.g. `/eth/69/1.0.0`. */
  protocol: string
}

/**
 * Message-id counts of the capabilities this stack knows, by name and version
 * (geth's protocolLengths): eth/66–68 end at Receipts (0x10), eth/69 and
 * eth/70 add BlockRangeUpdate (0x11), snap/1 has eight messages.
 */
export const KNOWN_CAPABILITY_LENGTHS: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  eth: { 66: 17, 67: 17, 68: 17, 69: 18, 70: 18 },
  snap: { 1: 8 },
}

const PROTOCOL_ID = /^\/([A-Za-z0-9]{1,8})\/(\d{1,9})\/1\.0\.0$/

/** The stream id of a capability: `/<name>/<version>/1.0.0`. */
export function capabilityProtocolId(cap: CapabilityName): string {
  return `/${cap.name}/${cap.version}/1.0.0`
}

/** The capability a stream id names, or undefined when it has not the `/<name>/<version>/1.0.0` form. */
export function parseCapabilityProtocolId(protocol: string): CapabilityName | undefined {
  const m = PROTOCOL_ID.exec(protocol)
  return m === null ? undefined : { name: m[1]!, version: Number(m[2]) }
}

/**
 * The capabilities to announce for `protocols` (stream ids, e.g. the
 * Registrar's): those of a capability in KNOWN_CAPABILITY_LENGTHS; others
 * (not RLPx capabilities) are left out.
 */
export function capabilitiesForProtocols(protocols: readonly string[]): Capability[] {
  const caps: Capability[] = []
  for (const protocol of protocols) {
    const cap = parseCapabilityProtocolId(protocol)
    const length = cap === undefined ? undefined : KNOWN_CAPABILITY_LENGTHS[cap.name]?.[cap.version]
    if (cap !== undefined && length !== undefined) caps.push({ ...cap, length })
  }
  return caps
}

/** Throws RlpxInvalidOptionError for a capability list Hello cannot carry or the session cannot lay out. */
export function validateCapabilities(caps: readonly Capability[]): void {
  if (caps.length === 0) throw new RlpxInvalidOptionError('at least one capability is needed')
  const seen = new Set<string>()
  for (const cap of caps) {
    if (!/^[\x21-\x7e]{1,8}$/.test(cap.name)) throw new RlpxInvalidOptionError(`capability name ${JSON.stringify(cap.name)} is not 1-8 ASCII characters`)
    if (!Number.isSafeInteger(cap.version) || cap.version < 0) throw new RlpxInvalidOptionError(`capability ${cap.name} version ${cap.version}`)
    if (!Number.isSafeInteger(cap.length) || cap.length < 1) throw new RlpxInvalidOptionError(`capability ${cap.name}/${cap.version} length ${cap.length}`)
    const max = cap.maxMessageSize
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) throw new RlpxInvalidOptionError(`capability ${cap.name}/${cap.version} maxMessageSize ${max}`)
    const key = `${cap.name}/${cap.version}`
    if (seen.has(key)) throw new RlpxInvalidOptionError(`capability ${key} listed twice`)
    seen.add(key)
  }
}

/**
 * The shared capabilities and their offsets, as the spec lays them out (and
 * geth's matchProtocols): of each name both sides run in equal versions only
 * the highest version counts; names are taken in byte order (case-sensitive),
 * and ids are handed out from 0x10 in that order, each capability taking
 * `length` of them.
 */
export function matchCapabilities(ours: readonly Capability[], theirs: readonly CapabilityName[]): SharedCapability[] {
  const best = new Map<string, Capability>()
  for (const cap of ours) {
    if (!theirs.some((t) => t.name === cap.name && t.version === cap.version)) continue
    const current = best.get(cap.name)
    if (current === undefined || cap.version > current.version) best.set(cap.name, cap)
  }
  const names = [...best.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  let offset = BASE_PROTOCOL_LENGTH
  return names.map((name) => {
    const cap = best.get(name)!
    const shared: SharedCapability = {
      name,
      version: cap.version,
      length: cap.length,
      maxMessageSize: cap.maxMessageSize ?? DEFAULT_MAX_CAPABILITY_MESSAGE_SIZE,
      offset,
      protocol: capabilityProtocolId(cap),
    }
    offset += cap.length
    return shared
  })
}

/** The shared capability whose id range holds `id`, or undefined. `caps` is sorted by offset. */
export function capabilityForId(caps: readonly SharedCapability[], id: number): SharedCapability | undefined {
  for (const cap of caps) if (id >= cap.offset && id < cap.offset + cap.length) return cap
  return undefined
}
