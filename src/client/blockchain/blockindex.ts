import type { BlockBodyBytes, BlockHeader } from '@ethereumjs/block'
import type { Blockchain } from '@ethereumjs/blockchain'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { LruMap } from '../../p2p/util/lru'

/**
 * Headers kept decoded, by hash. Building a BlockHeader from stored bytes costs about 70 µs
 * here (@ethereumjs/block copies the chain's Common into every header), so serving 192
 * headers from the store took 14 ms of CPU; a cached header costs nothing to serve. About
 * 2.5 KiB each: 8192 of them, several peers' worth of sync batches, hold about 20 MiB.
 */
export const HEADER_CACHE_SIZE = 8192

/**
 * Finds stored blocks for the chain: by hash or number, canonical or not, with recently used
 * headers kept decoded. Reads only; Chain decides what is stored and which blocks are canonical.
 */
export class BlockIndex {
  private readonly blockchain: Blockchain
  private readonly headers = new LruMap<string, BlockHeader>(HEADER_CACHE_SIZE)

  constructor(blockchain: Blockchain) {
    this.blockchain = blockchain
  }

  /** Keeps a header just put decoded, so serving it costs nothing. */
  remember(header: BlockHeader): void {
    this.headers.set(bytesToHex(header.hash()), header)
  }

  /** A block by hash (stored, canonical or not) or the canonical block at a number. */
  async findHeader(id: Uint8Array | bigint | number): Promise<BlockHeader | undefined> {
    if (typeof id === 'number') id = Number.isSafeInteger(id) ? BigInt(id) : -1n
    if (typeof id === 'bigint') return id < 0n ? undefined : this.canonicalHeader(id)
    const number = await this.numberOf(id)
    return number === undefined ? undefined : this.storedHeader(id, number)
  }

  async canonicalHeader(number: bigint): Promise<BlockHeader | undefined> {
    const hash = await this.blockchain.safeNumberToHash(number)
    return hash === false ? undefined : this.storedHeader(hash, number)
  }

  /** The header of a stored block, from the cache or decoded from the store (then cached). */
  async storedHeader(hash: Uint8Array, number: bigint): Promise<BlockHeader> {
    const key = bytesToHex(hash)
    const cached = this.headers.get(key)
    if (cached !== undefined) return cached
    const header = await this.blockchain.dbManager.getHeader(hash, number)
    this.headers.set(key, header)
    return header
  }

  async isCanonical(header: BlockHeader): Promise<boolean> {
    const hash = await this.blockchain.safeNumberToHash(header.number)
    return hash !== false && equalsBytes(hash, header.hash())
  }

  async isStored(hash: Uint8Array): Promise<boolean> {
    return (await this.numberOf(hash)) !== undefined
  }

  /** Number of a stored block, or undefined (the DB manager throws for unknown hashes). */
  async numberOf(hash: Uint8Array): Promise<bigint | undefined> {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) return undefined
    try {
      return await this.blockchain.dbManager.hashToNumber(hash)
    } catch (err) {
      if (err instanceof Error && err.message.includes('not found in DB')) return undefined
      throw err
    }
  }

  async bodyOf(hash: Uint8Array): Promise<BlockBodyBytes | undefined> {
    const number = await this.numberOf(hash)
    if (number === undefined) return undefined
    return (await this.blockchain.dbManager.getBody(hash, number)) as BlockBodyBytes | undefined
  }
}
