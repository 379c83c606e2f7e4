import { type Block, type BlockBodyBytes, createBlock } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { Common, LOG_CONTRACT_CODE, createGenesisBlock } from '../../../src/chain-config'
import { Chain, MAX_BODIES_SERVE, MAX_HEADERS_SERVE, MAX_NODE_DATA_SERVE, MAX_RECEIPTS_SERVE } from '../../../src/client/blockchain/chain'
import { ChainError, InvalidBlockError } from '../../../src/client/blockchain/errors'
import { type TestChain, buildTestChain, verifyBody, verifyReceipts } from '../../../src/client/testing/testchain'

const hex = (b: Uint8Array): string => bytesToHex(b)
const body = (b: Block): BlockBodyBytes => b.raw().slice(1) as BlockBodyBytes
const encoded = (x: unknown): string => hex(RLP.encode(x as Uint8Array[]))

describe('Chain', () => {
  const common = Common.custom({ chainId: 1234, name: 'testnet' })
  let test: TestChain
  let all: Block[] // genesis + 64 blocks, index = number
  let chain: Chain
  const opened: Chain[] = []

  async function newChain(): Promise<Chain> {
    const c = await Chain.create({ common })
    opened.push(c)
    return c
  }

  beforeAll(async () => {
    test = await buildTestChain({ common, blocks: 64 })
    all = [test.genesis, ...test.blocks]
    chain = await newChain()
    expect(await chain.putBlocks(test.blocks, test.receipts)).toBe(64)
  })

  afterAll(async () => {
    for (const c of opened) await c.close()
  })

  /** Expected numbers of a GetBlockHeaders query over the 0..64 chain. */
  function expectedNumbers(origin: number, max: number, skip: number, reverse: boolean): number[] {
    const out: number[] = []
    for (let n = origin; out.length < Math.min(max, MAX_HEADERS_SERVE) && n >= 0 && n <= 64; n += reverse ? -(skip + 1) : skip + 1) out.push(n)
    return out
  }

  describe('genesis and head', () => {
    it('starts at the chain-config genesis', async () => {
      const fresh = await newChain()
      expect(hex(fresh.genesis.hash())).toBe(hex(createGenesisBlock(common).hash()))
      expect(hex(fresh.genesis.hash())).toBe(hex(test.genesis.hash()))
      expect(fresh.headers.height).toBe(0n)
      expect(fresh.headers.td).toBe(0n)
      expect(hex(fresh.headers.latest.hash())).toBe(hex(fresh.genesis.hash()))
      expect(fresh.opened).toBe(true)
    })

    it('tracks the latest header and total difficulty after putBlocks', async () => {
      expect(chain.headers.height).toBe(64n)
      expect(hex(chain.headers.latest.hash())).toBe(hex(test.blocks[63]!.hash()))
      expect(chain.headers.td).toBe(0n) // PoS from genesis: every difficulty is 0
      expect(await chain.getTd(test.blocks[10]!.hash(), 11n)).toBe(0n)
    })

    it('skips blocks it already has', async () => {
      expect(await chain.putBlocks(test.blocks.slice(0, 10))).toBe(0)
      expect(chain.headers.height).toBe(64n)
    })

    it('appends in several calls', async () => {
      const c = await newChain()
      expect(await c.putBlocks(test.blocks.slice(0, 20), test.receipts.slice(0, 20))).toBe(20)
      expect(c.headers.height).toBe(20n)
      expect(await c.putBlocks(test.blocks.slice(15), test.receipts.slice(15))).toBe(44)
      expect(hex(c.headers.latest.hash())).toBe(hex(test.blocks[63]!.hash()))
    })
  })

  it('serializes concurrent putBlocks', async () => {
    const c = await newChain()
    const [a, b] = await Promise.all([
      c.putBlocks(test.blocks.slice(0, 30), test.receipts.slice(0, 30)),
      c.putBlocks(test.blocks.slice(0, 40), test.receipts.slice(0, 40)),
    ])
    expect([a, b]).toEqual([30, 10])
    expect(c.headers.height).toBe(40n)
    expect(await c.getReceipts(test.blocks.slice(0, 40).map((x) => x.hash()))).toHaveLength(40)
  })

  describe('getBlock / getTd', () => {
    it('finds blocks by number and by hash', async () => {
      const b = await chain.getBlock(17n)
      expect(hex(b.hash())).toBe(hex(all[17]!.hash()))
      expect(hex((await chain.getBlock(all[17]!.hash())).serialize())).toBe(hex(all[17]!.serialize()))
      expect(hex((await chain.getBlock(0n)).hash())).toBe(hex(test.genesis.hash()))
    })

    it('throws a typed error for unknown blocks', async () => {
      await expect(chain.getBlock(65n)).rejects.toMatchObject({ code: 'ERR_CHAIN_UNKNOWN_BLOCK' })
      await expect(chain.getBlock(new Uint8Array(32).fill(7))).rejects.toBeInstanceOf(ChainError)
      await expect(chain.getTd(new Uint8Array(32).fill(7), 1n)).rejects.toMatchObject({ code: 'ERR_CHAIN_UNKNOWN_BLOCK' })
      await expect(chain.getTd(all[5]!.hash(), 6n)).rejects.toMatchObject({ code: 'ERR_CHAIN_UNKNOWN_BLOCK' })
    })
  })

  describe('getHeaders', () => {
    const cases: [number, number, number, boolean][] = [
      [0, 5, 0, false],
      [10, 5, 2, false],
      [20, 5, 3, true],
      [3, 10, 0, true],
      [60, 10, 0, false],
      [64, 3, 0, false],
      [64, 100, 9, true],
      [1, 1_000, 0, false],
      [5, 4, 100, false],
    ]

    it.each(cases)('by number: origin %i max %i skip %i reverse %s', async (origin, max, skip, reverse) => {
      const headers = await chain.getHeaders(BigInt(origin), max, skip, reverse)
      const want = expectedNumbers(origin, max, skip, reverse)
      expect(headers.map((h) => Number(h.number))).toEqual(want)
      expect(headers.map((h) => hex(h.hash()))).toEqual(want.map((n) => hex(all[n]!.hash())))
    })

    it.each(cases)('by hash: origin %i max %i skip %i reverse %s', async (origin, max, skip, reverse) => {
      const headers = await chain.getHeaders(all[origin]!.hash(), max, skip, reverse)
      expect(headers.map((h) => hex(h.hash()))).toEqual(expectedNumbers(origin, max, skip, reverse).map((n) => hex(all[n]!.hash())))
    })

    it('accepts a plain number as origin', async () => {
      expect((await chain.getHeaders(5, 2, 0, false)).map((h) => h.number)).toEqual([5n, 6n])
      expect(hex((await chain.getBlock(7)).hash())).toBe(hex(all[7]!.hash()))
    })

    it('returns nothing for an unknown origin or max 0', async () => {
      expect(await chain.getHeaders(65n, 10, 0, false)).toEqual([])
      expect(await chain.getHeaders(2n ** 64n - 1n, 10, 0, true)).toEqual([])
      expect(await chain.getHeaders(new Uint8Array(32).fill(1), 10, 0, false)).toEqual([])
      expect(await chain.getHeaders(new Uint8Array(5), 10, 0, false)).toEqual([])
      expect(await chain.getHeaders(3n, 0, 0, false)).toEqual([])
    })

    it('handles huge max and skip cheaply', async () => {
      expect(await chain.getHeaders(0n, 1e9, 0, false)).toHaveLength(65)
      expect(await chain.getHeaders(0n, 2n ** 64n - 1n, 0, false)).toHaveLength(65)
      const far = await chain.getHeaders(3n, 1e9, 2n ** 63n, false)
      expect(far.map((h) => h.number)).toEqual([3n])
      expect((await chain.getHeaders(64n, 1e9, 2n ** 63n, true)).map((h) => h.number)).toEqual([64n])
    })

    it('rejects negative or fractional counts with a typed error', async () => {
      await expect(chain.getHeaders(0n, -1, 0, false)).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_ARGUMENT' })
      await expect(chain.getHeaders(0n, 1, -1, false)).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_ARGUMENT' })
      await expect(chain.getHeaders(0n, 1.5, 0, false)).rejects.toBeInstanceOf(ChainError)
    })
  })

  describe('getBodies', () => {
    it('serves every body exactly as in the block, matching its header', async () => {
      const bodies = await chain.getBodies(test.blocks.map((b) => b.hash()))
      expect(bodies).toHaveLength(64)
      bodies.forEach((bb, i) => {
        const block = test.blocks[i]!
        expect(encoded(bb)).toBe(encoded(body(block)))
        verifyBody(block.header, bb)
        expect(bb[0].length).toBe(block.transactions.length)
        expect(bb[2]).toEqual([]) // Shanghai+: a withdrawals list, empty here
      })
      const [g] = await chain.getBodies([test.genesis.hash()])
      expect(encoded(g)).toBe(encoded([[], [], []]))
    })

    it('stops at the first unknown hash', async () => {
      const hs = [all[3]!.hash(), all[4]!.hash(), new Uint8Array(32).fill(9), all[5]!.hash()]
      const bodies = await chain.getBodies(hs)
      expect(bodies.map(encoded)).toEqual([encoded(body(all[3]!)), encoded(body(all[4]!))])
      expect(await chain.getBodies([new Uint8Array(32)])).toEqual([])
      expect(await chain.getBodies([])).toEqual([])
    })

    it('caps the reply by count and by the soft byte limit', async () => {
      const many = Array.from({ length: 5_000 }, (_, i) => all[1 + (i % 64)]!.hash())
      expect(await chain.getBodies(many, { softLimitBytes: Number.MAX_SAFE_INTEGER })).toHaveLength(MAX_BODIES_SERVE)
      expect(await chain.getBodies(many, { softLimitBytes: 1 })).toHaveLength(1)
      const one = RLP.encode(body(all[1]!) as Uint8Array[][]).length
      const same = Array.from({ length: 10 }, () => all[1]!.hash())
      expect(await chain.getBodies(same, { softLimitBytes: one * 3 })).toHaveLength(3)
      expect(await chain.getBodies(same, { softLimitBytes: one * 3 + 1 })).toHaveLength(4)
    })
  })

  describe('getReceipts', () => {
    it('serves the stored receipts, which verify against the receipt roots', async () => {
      const receipts = await chain.getReceipts(test.blocks.map((b) => b.hash()))
      expect(receipts).toHaveLength(64)
      receipts.forEach((rs, i) => {
        verifyReceipts(test.blocks[i]!.header, rs)
        expect(rs.map(hex)).toEqual(test.receipts[i]!.map(hex))
      })
      expect(await chain.getReceipts([test.genesis.hash()])).toEqual([[]])
    })

    it('stops at an unknown block and caps the reply', async () => {
      expect(await chain.getReceipts([all[1]!.hash(), new Uint8Array(32).fill(3), all[2]!.hash()])).toHaveLength(1)
      const many = Array.from({ length: 3_000 }, (_, i) => all[1 + (i % 64)]!.hash())
      expect(await chain.getReceipts(many, { softLimitBytes: Number.MAX_SAFE_INTEGER })).toHaveLength(MAX_RECEIPTS_SERVE)
      expect(await chain.getReceipts(many, { softLimitBytes: 1 })).toHaveLength(1)
    })

    it('serves the receipts execution produced for blocks stored without any (a syncing node has only bodies)', async () => {
      const c = await newChain()
      await c.putBlocks(test.blocks.slice(0, 3))
      const receipts = await c.getReceipts(test.blocks.slice(0, 3).map((b) => b.hash()))
      expect(receipts.map((rs) => rs.map(hex))).toEqual(test.receipts.slice(0, 3).map((rs) => rs.map(hex)))
      const empty = await buildTestChain({ common, blocks: 2, txsPerBlock: 0 })
      const e = await newChain()
      await e.putBlocks(empty.blocks)
      expect(await e.getReceipts(empty.blocks.map((b) => b.hash()))).toEqual([[], []])
    })

    it('refuses receipts that do not match the blocks, storing nothing', async () => {
      const c = await newChain()
      const wrong = [test.receipts[1]!, test.receipts[0]!]
      await expect(c.putBlocks(test.blocks.slice(0, 2), wrong)).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_RECEIPTS' })
      await expect(c.putBlocks(test.blocks.slice(0, 2), [test.receipts[0]!])).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_RECEIPTS' })
      expect(c.headers.height).toBe(0n)
    })

    it('refuses a batch in which one byte of one receipt was altered, storing nothing', async () => {
      const c = await newChain()
      const receipts = test.receipts.slice(0, 4).map((rs) => rs.map((r) => Uint8Array.from(r)))
      const victim = receipts[2]![1]!
      victim[victim.length >> 1]! ^= 0x01
      const err = await c.putBlocks(test.blocks.slice(0, 4), receipts).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ChainError)
      expect((err as ChainError).code).toBe('ERR_CHAIN_INVALID_RECEIPTS')
      // The receipts root of block 3 is what no longer matches.
      expect((err as ChainError).message).toMatch(/^block 3: receipts root/)
      expect(c.headers.height).toBe(0n)
      expect(await c.putBlocks(test.blocks.slice(0, 4), test.receipts.slice(0, 4))).toBe(4)
    })
  })

  describe('getNodeData', () => {
    const keccak = (b: Uint8Array): string => hex(keccak_256(b))

    it('serves state trie nodes of the head and of earlier blocks, by hash', async () => {
      const head = test.blocks[63]!.header.stateRoot
      const earlier = test.genesis.header.stateRoot
      const nodes = await chain.getNodeData([head, earlier])
      expect(nodes.map(keccak)).toEqual([hex(head), hex(earlier)])
      // The root node is a branch of the account trie: its children are servable by their hashes too.
      const children = (RLP.decode(nodes[0]!) as Uint8Array[]).filter((c) => c instanceof Uint8Array && c.length === 32)
      expect(children.length).toBeGreaterThan(0)
      expect((await chain.getNodeData(children)).map(keccak)).toEqual(children.map(hex))
    })

    it('serves contract code by its code hash', async () => {
      const code = hexToBytes(LOG_CONTRACT_CODE)
      expect((await chain.getNodeData([keccak_256(code)])).map(hex)).toEqual([hex(code)])
    })

    it('skips what it never held, keeps request order, and caps the reply', async () => {
      const head = test.blocks[63]!.header.stateRoot
      const earlier = test.genesis.header.stateRoot
      const unknown = new Uint8Array(32).fill(9)
      expect((await chain.getNodeData([unknown, earlier, new Uint8Array(3), head])).map(keccak)).toEqual([hex(earlier), hex(head)])
      const many = Array.from({ length: MAX_NODE_DATA_SERVE + 50 }, () => head)
      expect(await chain.getNodeData(many, { softLimitBytes: Number.MAX_SAFE_INTEGER })).toHaveLength(MAX_NODE_DATA_SERVE)
      expect(await chain.getNodeData(many, { softLimitBytes: 1 })).toHaveLength(1)
    })
  })

  describe('validation on put', () => {
    it('refuses a block whose parent is unknown', async () => {
      const c = await newChain()
      await expect(c.putBlocks([test.blocks[5]!])).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_BLOCK' })
      expect(c.headers.height).toBe(0n)
    })

    it('refuses a block whose body does not match its header', async () => {
      const c = await newChain()
      const b1 = test.blocks[0]!
      const forged = createBlock(
        { header: b1.header.toJSON(), transactions: test.blocks[1]!.transactions, withdrawals: [] },
        { common: b1.common },
      )
      await expect(c.putBlocks([forged])).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_BLOCK' })
      expect(await c.putBlocks([b1])).toBe(1)
    })

    it('refuses a block with a wrong base fee', async () => {
      const c = await newChain()
      const b1 = test.blocks[0]!
      const bad = createBlock(
        { header: { ...b1.header.toJSON(), baseFeePerGas: b1.header.baseFeePerGas! + 1n }, transactions: b1.transactions, withdrawals: [] },
        { common: b1.common },
      )
      await expect(c.putBlocks([bad])).rejects.toThrow(/base fee/)
    })

    it('refuses blocks of another chain', async () => {
      const other = Common.custom({ chainId: 777, name: 'other' })
      const foreign = await buildTestChain({ common: other, blocks: 1 })
      const c = await newChain()
      await expect(c.putBlocks(foreign.blocks)).rejects.toMatchObject({ code: 'ERR_CHAIN_INVALID_BLOCK' })
    })

    it('executes every block: one whose header claims another state root is rejected and not kept', async () => {
      const c = await newChain()
      const b1 = test.blocks[0]!
      const forged = createBlock(
        { header: { ...b1.header.toJSON(), stateRoot: new Uint8Array(32).fill(0x5a) }, transactions: b1.transactions, withdrawals: [] },
        { common: b1.common },
      )
      const err = await c.putBlocks([forged]).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(ChainError)
      expect(err).toBeInstanceOf(InvalidBlockError)
      expect((err as ChainError).code).toBe('ERR_CHAIN_INVALID_BLOCK')
      expect((err as Error).message).toMatch(/failed execution/)
      expect(c.headers.height).toBe(0n)
      await expect(c.getBlock(forged.hash())).rejects.toMatchObject({ code: 'ERR_CHAIN_UNKNOWN_BLOCK' })
      // The real block 1 still goes in on top of genesis.
      expect(await c.putBlocks([b1])).toBe(1)
    })

    it('keeps the blocks before a rejected one', async () => {
      const c = await newChain()
      const broken = [test.blocks[0]!, test.blocks[1]!, test.blocks[3]!]
      await expect(c.putBlocks(broken)).rejects.toBeInstanceOf(ChainError)
      expect(c.headers.height).toBe(2n)
      expect(equalsBytes(c.headers.latest.hash(), test.blocks[1]!.hash())).toBe(true)
    })
  })

  describe('lifecycle', () => {
    let c: Chain
    afterEach(async () => {
      await c.close()
    })

    it('open and close are idempotent; a closed chain refuses queries with a typed error', async () => {
      c = await newChain()
      await c.open()
      await c.putBlocks(test.blocks.slice(0, 2))
      await c.close()
      await c.close()
      expect(c.opened).toBe(false)
      await expect(c.getHeaders(0n, 1, 0, false)).rejects.toMatchObject({ code: 'ERR_CHAIN_CLOSED' })
      await expect(c.getBodies([all[1]!.hash()])).rejects.toMatchObject({ code: 'ERR_CHAIN_CLOSED' })
      await expect(c.putBlocks(test.blocks.slice(2, 3))).rejects.toMatchObject({ code: 'ERR_CHAIN_CLOSED' })
      expect(c.headers.height).toBe(2n)
      await c.open()
      await c.open()
      expect((await c.getHeaders(0n, 10, 0, false)).map((h) => h.number)).toEqual([0n, 1n, 2n])
    })
  })
})

describe('Chain with more than MAX_HEADERS_SERVE blocks', () => {
  it('caps a request for 10^9 headers at MAX_HEADERS_SERVE', async () => {
    const common = Common.custom({ chainId: 1234, name: 'testnet' })
    const long = await buildTestChain({ common, blocks: MAX_HEADERS_SERVE + 10, txsPerBlock: 0 })
    const chain = await Chain.create({ common })
    try {
      await chain.putBlocks(long.blocks)
      const headers = await chain.getHeaders(0n, 1e9, 0, false)
      expect(headers).toHaveLength(MAX_HEADERS_SERVE)
      expect(headers[MAX_HEADERS_SERVE - 1]!.number).toBe(BigInt(MAX_HEADERS_SERVE - 1))
      const reverse = await chain.getHeaders(BigInt(MAX_HEADERS_SERVE + 10), 1e9, 0, true)
      expect(reverse).toHaveLength(MAX_HEADERS_SERVE)
      expect(reverse[0]!.number).toBe(BigInt(MAX_HEADERS_SERVE + 10))
    } finally {
      await chain.close()
    }
  })
})
