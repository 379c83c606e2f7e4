import { type BatchDBOp, type DB, type DBObject, type EncodingOpts, ValueEncoding, bytesToUtf8, utf8ToBytes } from '@ethereumjs/util'

import { prefixed } from './kvstore'

import type { StagedWrites } from './staged'

type Key = Uint8Array | string | number
type Value = Uint8Array | string | DBObject

/**
 * @ethereumjs's `DB` interface (what @ethereumjs/blockchain's `db` option takes) over staged
 * writes, under one key prefix. Writes are staged, so the owner decides when they reach the
 * disk (in the same batch as the state they go with). String keys are stored as their UTF-8
 * bytes; values are stored as bytes, JSON or UTF-8 as each call's `valueEncoding` says.
 */
export class EthjsDb implements DB<Key, Value> {
  private readonly staged: StagedWrites
  private readonly prefix: Uint8Array

  constructor(staged: StagedWrites, prefix: Uint8Array) {
    this.staged = staged
    this.prefix = prefix
  }

  async get(key: Key, opts?: EncodingOpts): Promise<Value | undefined> {
    const stored = this.staged.get(this.keyOf(key))
    if (stored === undefined) return undefined
    switch (opts?.valueEncoding) {
      case ValueEncoding.JSON:
        return JSON.parse(bytesToUtf8(stored)) as DBObject
      case ValueEncoding.String:
        return bytesToUtf8(stored)
      default:
        return stored
    }
  }

  async put(key: Key, value: Value, opts?: EncodingOpts): Promise<void> {
    this.staged.put(this.keyOf(key), valueBytes(value, opts))
  }

  async del(key: Key): Promise<void> {
    this.staged.del(this.keyOf(key))
  }

  async batch(ops: BatchDBOp<Key, Value>[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.staged.put(this.keyOf(op.key), valueBytes(op.value, op.opts))
      else this.staged.del(this.keyOf(op.key))
    }
  }

  /** The same store: copies share the staged writes, as the interface asks. */
  shallowCopy(): DB<Key, Value> {
    return this
  }

  async open(): Promise<void> {}

  private keyOf(key: Key): Uint8Array {
    if (key instanceof Uint8Array) return prefixed(this.prefix, key)
    if (typeof key === 'string') return prefixed(this.prefix, utf8ToBytes(key))
    throw new TypeError(`EthjsDb: numeric keys are not used by @ethereumjs/blockchain (got ${key})`)
  }
}

function valueBytes(value: Value, opts: EncodingOpts | undefined): Uint8Array {
  if (opts?.valueEncoding === ValueEncoding.JSON) return utf8ToBytes(JSON.stringify(value))
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return utf8ToBytes(value)
  return utf8ToBytes(JSON.stringify(value))
}
