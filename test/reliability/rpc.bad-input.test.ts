/**
 * Hostile and broken JSON-RPC clients against a running node: each gets a
 * clear JSON-RPC error or a closed connection, and the node keeps answering
 * a well-behaved caller (checked after every case, and during the slow ones).
 */
import { connect } from 'node:net'

import { afterAll, beforeAll, expect } from 'vitest'

import { startNode, testCommon } from '../client/helpers/nodes'
import { badInputTable } from './table'

import type { EthereumClient } from '../../src/client'

const MAX_BODY = 4096
const MAX_BATCH = 10
const READ_TIMEOUT_MS = 600
/** A slow client is cut off by then (the timeout plus node:http's checking period). */
const CUTOFF_MS = READ_TIMEOUT_MS * 4

let node: EthereumClient
let url: string
let port: number

beforeAll(async () => {
  node = (await startNode({ common: testCommon(), rpcPort: 0, rpcMaxBodyBytes: MAX_BODY, rpcMaxBatchSize: MAX_BATCH, rpcReadTimeoutMs: READ_TIMEOUT_MS, discV4: false })).client
  url = node.rpc!.url
  port = Number(new URL(url).port)
})

afterAll(async () => {
  await node?.stop()
})

interface JsonReply {
  status: number
  body: any
}

async function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<JsonReply> {
  const res = await fetch(url, { method: 'POST', headers, body })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // plain-text refusals stay text
  }
  return { status: res.status, body: parsed }
}

const call = (method: string, params?: unknown, id: unknown = 1): string => JSON.stringify({ jsonrpc: '2.0', id, method, params })

/** A well-behaved caller is still answered. */
async function stillServing(): Promise<void> {
  const r = await post(call('eth_blockNumber'))
  expect(r.body).toEqual({ jsonrpc: '2.0', id: 1, result: '0x0' })
}

function expectError(r: JsonReply, code: number, message: RegExp, id: unknown = 1): void {
  expect(r.status).toBe(200)
  expect(r.body.jsonrpc).toBe('2.0')
  expect(r.body.id).toBe(id)
  expect(r.body.error.code).toBe(code)
  expect(r.body.error.message).toMatch(message)
}

/** Raw TCP client: writes `head`, then (if given) trickles `trickle` one byte per `everyMs`; resolves with what came back once the server closes. */
function rawHttp(head: string, trickle = '', everyMs = 50): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1')
    let response = ''
    let i = 0
    let timer: NodeJS.Timeout | undefined
    const guard = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server kept the connection open for ${CUTOFF_MS * 3} ms`))
    }, CUTOFF_MS * 3)
    socket.on('data', (d) => (response += d.toString()))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(guard)
      resolve({ response, closedAfterMs: Date.now() - started })
    })
    socket.on('connect', () => {
      socket.write(head)
      if (trickle === '') return
      timer = setInterval(() => {
        if (i < trickle.length && !socket.destroyed) socket.write(trickle[i++]!)
      }, everyMs)
    })
  })
}

badInputTable('rpc', 'JSON-RPC 2.0 over HTTP', [
  {
    case: 'body that is not JSON',
    expected: 'error -32700 (parse error), id null; node keeps serving',
    run: async () => {
      expectError(await post('{"jsonrpc":"2.0","id":1,"method":'), -32700, /^parse error: /, null)
      await stillServing()
    },
  },
  {
    case: 'unknown method',
    expected: 'error -32601 naming the method',
    run: async () => {
      expectError(await post(call('eth_mine')), -32601, /the method eth_mine does not exist/)
      expectError(await post(call('constructor')), -32601, /constructor/)
      await stillServing()
    },
  },
  {
    case: 'wrong parameters (bad hex, wrong type, too many, missing)',
    expected: 'error -32602 naming the argument',
    run: async () => {
      expectError(await post(call('eth_getBalance', ['0x1234'])), -32602, /invalid argument 0: expected a 20-byte address/)
      expectError(await post(call('eth_getBlockByNumber', ['0x01', false])), -32602, /invalid argument 0: .* not a hex quantity/)
      expectError(await post(call('eth_getBlockByNumber', ['latest', 'yes'])), -32602, /invalid argument 1: expected true or false/)
      expectError(await post(call('eth_blockNumber', [1])), -32602, /too many arguments, want at most 0/)
      expectError(await post(call('eth_getTransactionByHash', [])), -32602, /missing value for required argument 0/)
      expectError(await post(call('eth_feeHistory', ['0x2', 'latest', [90, 10]])), -32602, /percentiles must increase/)
      expectError(await post(call('eth_sendRawTransaction', ['0x00aa'])), -32602, /not a signed transaction/)
      await stillServing()
    },
  },
  {
    case: 'JSON that is not a JSON-RPC 2.0 request (version, method, id, params)',
    expected: 'error -32600 (invalid request) for each',
    run: async () => {
      expectError(await post(JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'eth_blockNumber' })), -32600, /"jsonrpc" must be "2.0"/)
      expectError(await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 7 })), -32600, /"method" must be a non-empty string/)
      expectError(await post(JSON.stringify({ jsonrpc: '2.0', id: { a: 1 }, method: 'eth_blockNumber' })), -32600, /"id" must be/, null)
      expectError(await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: 'x' })), -32600, /"params" must be/)
      expectError(await post('42'), -32600, /expected a request object/, null)
      await stillServing()
    },
  },
  {
    case: 'empty batch; batch with good and bad calls; batch nested 2000 deep',
    expected: 'one -32600 for the empty batch; one reply per call, in order; -32600 for the nested one',
    run: async () => {
      expectError(await post('[]'), -32600, /empty batch/, null)
      const mixed = await post(`[${call('eth_blockNumber', [], 1)},{"jsonrpc":"2.0","id":2},${call('nope', [], 3)}]`)
      expect(mixed.body.map((r: { id: number; error?: { code: number } }) => [r.id, r.error?.code])).toEqual([[1, undefined], [2, -32600], [3, -32601]])
      const nested = await post(`${'['.repeat(2000)}${']'.repeat(2000)}`)
      expect(nested.status).toBe(200)
      expect(JSON.stringify(nested.body)).toMatch(/-32600/)
      await stillServing()
    },
  },
  {
    case: `batch of ${MAX_BATCH + 1} calls (rpcMaxBatchSize ${MAX_BATCH})`,
    expected: 'one error -32600 naming the limit; no call executed',
    run: async () => {
      const batch = `[${Array.from({ length: MAX_BATCH + 1 }, (_, i) => call('eth_blockNumber', [], i)).join(',')}]`
      expectError(await post(batch), -32600, new RegExp(`batch of ${MAX_BATCH + 1} calls exceeds the limit of ${MAX_BATCH}`), null)
      const ok = await post(`[${Array.from({ length: MAX_BATCH }, (_, i) => call('eth_blockNumber', [], i)).join(',')}]`)
      expect(ok.body).toHaveLength(MAX_BATCH)
    },
  },
  {
    case: `body declared larger than rpcMaxBodyBytes (${MAX_BODY})`,
    expected: 'HTTP 413 naming the limit before the body is read, connection closed',
    run: async () => {
      const { response } = await rawHttp(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`)
      expect(response).toMatch(/^HTTP\/1\.1 413 /)
      expect(response).toMatch(new RegExp(`limit is ${MAX_BODY} bytes`))
      await stillServing()
    },
  },
  {
    case: 'chunked body growing past rpcMaxBodyBytes',
    expected: 'HTTP 413 once the limit is passed, connection closed',
    run: async () => {
      const chunk = 'a'.repeat(1000)
      const body = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('')
      const { response } = await rawHttp(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}`)
      expect(response).toMatch(/^HTTP\/1\.1 413 /)
      await stillServing()
    },
  },
  {
    case: 'slow loris: request head trickled a byte at a time past rpcReadTimeoutMs',
    expected: 'connection closed by the node after the read timeout; others served meanwhile',
    timeoutMs: 30_000,
    run: async () => {
      const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Padding: ' + 'p'.repeat(400)
      const slow = rawHttp('P', head.slice(1), 40)
      await stillServing()
      const { closedAfterMs, response } = await slow
      expect(closedAfterMs).toBeGreaterThanOrEqual(READ_TIMEOUT_MS)
      expect(closedAfterMs).toBeLessThan(CUTOFF_MS)
      expect(response === '' || /^HTTP\/1\.1 408 /.test(response)).toBe(true)
      await stillServing()
    },
  },
  {
    case: 'slow body: head complete, body trickled a byte at a time past rpcReadTimeoutMs',
    expected: 'connection closed by the node after the read timeout (408); others served',
    timeoutMs: 30_000,
    run: async () => {
      const body = call('eth_blockNumber')
      const slow = rawHttp(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, 40)
      await stillServing()
      const { closedAfterMs, response } = await slow
      expect(closedAfterMs).toBeLessThan(CUTOFF_MS)
      expect(response === '' || /^HTTP\/1\.1 408 /.test(response)).toBe(true)
      await stillServing()
    },
  },
  {
    case: 'GET instead of POST; text/plain instead of JSON',
    expected: 'HTTP 405 with Allow: POST; HTTP 415',
    run: async () => {
      const get = await fetch(url)
      expect(get.status).toBe(405)
      expect(get.headers.get('allow')).toBe('POST')
      await get.text()
      expect((await post(call('eth_blockNumber'), { 'content-type': 'text/plain' })).status).toBe(415)
      await stillServing()
    },
  },
  {
    case: 'notification (no id) and a batch of notifications only',
    expected: 'HTTP 204, no body; the call still runs',
    run: async () => {
      const one = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'eth_blockNumber' }) })
      expect(one.status).toBe(204)
      expect(await one.text()).toBe('')
      const many = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ jsonrpc: '2.0', method: 'eth_chainId' }]) })
      expect(many.status).toBe(204)
      await stillServing()
    },
  },
])
