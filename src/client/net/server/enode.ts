import { isIPv4 } from 'node:net'

import { bytesToUnprefixedHex, unprefixedHexToBytes } from '@ethereumjs/util'

/** A parsed enode URL: `enode://<id hex>@<ip>:<tcp>?discport=<udp>`. */
export interface Enode {
  /** 64-byte node id (uncompressed public key without the 0x04 prefix). */
  id: Uint8Array
  /** The id as 128 lowercase hex characters. */
  idHex: string
  /** IPv4 address (discovery runs over udp4, so IPv6 is not accepted). */
  ip: string
  tcpPort: number
  /** UDP discovery port; equals tcpPort when the URL has no `discport`; 0 = the node runs no discovery. */
  udpPort: number
}

const ENODE_RE = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?#@]+):(\d{1,5})(?:\?discport=(\d{1,5}))?$/

/** Why parsing failed, in words fit for an error message. Returns the Enode or a reason string. */
export function parseEnode(url: string): Enode | string {
  const m = ENODE_RE.exec(url.trim())
  if (m === null) {
    return `"${url}" is not an enode URL of the form enode://<128 hex id>@<ipv4>:<tcp port>[?discport=<udp port>]`
  }
  const [, idHex, ip, tcp, udp] = m
  if (!isIPv4(ip)) return `"${url}": host "${ip}" is not an IPv4 address`
  const tcpPort = Number(tcp)
  const udpPort = udp === undefined ? tcpPort : Number(udp)
  if (tcpPort < 1 || tcpPort > 65535) return `"${url}": tcp port ${tcpPort} is outside 1..65535`
  if (udpPort > 65535) return `"${url}": discport ${udpPort} is outside 0..65535`
  const lower = idHex.toLowerCase()
  return { id: unprefixedHexToBytes(lower), idHex: lower, ip, tcpPort, udpPort }
}

/** Formats the node's own URL; always includes `discport` so readers never have to guess. */
export function formatEnode(id: Uint8Array, ip: string, tcpPort: number, udpPort: number): string {
  return `enode://${bytesToUnprefixedHex(id)}@${ip}:${tcpPort}?discport=${udpPort}`
}
