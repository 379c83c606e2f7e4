import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL,
  DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL,
  MAX_PROTOCOL_ID_BYTES,
  Registrar,
} from '../../../src/p2p/registrar'
import { DuplicateProtocolError, InvalidProtocolIdError, RegistrarError } from '../../../src/p2p/stack-errors'

const noop = (): void => {}

describe('Registrar', () => {
  it('lists handled protocols in registration order and returns their handler', () => {
    const r = new Registrar()
    const h68 = (): void => {}
    r.handle('/eth/68/1.0.0', h68)
    r.handle('/eth/67/1.0.0', noop)
    expect(r.getProtocols()).toEqual(['/eth/68/1.0.0', '/eth/67/1.0.0'])
    expect(r.getHandler('/eth/68/1.0.0')?.handler).toBe(h68)
    expect(r.getHandler('/eth/66/1.0.0')).toBeUndefined()
  })

  it('refuses a second handler for the same protocol with a typed error', () => {
    const r = new Registrar()
    r.handle('/echo/1', noop)
    const err = (() => {
      try {
        r.handle('/echo/1', noop)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(DuplicateProtocolError)
    expect(err).toBeInstanceOf(RegistrarError)
    expect((err as DuplicateProtocolError).code).toBe('ERR_REGISTRAR_DUPLICATE_PROTOCOL')
  })

  it('unhandle removes a protocol so it can be handled again', () => {
    const r = new Registrar()
    r.handle('/echo/1', noop)
    expect(r.unhandle('/echo/1')).toBe(true)
    expect(r.unhandle('/echo/1')).toBe(false)
    expect(r.getProtocols()).toEqual([])
    r.handle('/echo/1', noop)
    expect(r.getProtocols()).toEqual(['/echo/1'])
  })

  it('applies documented default limits and keeps explicit ones', () => {
    const r = new Registrar()
    r.handle('/a', noop)
    r.handle('/b', noop, { maxInboundStreams: 1, maxOutboundStreams: 2 })
    expect(r.getLimits('/a')).toEqual({
      maxInboundStreams: DEFAULT_MAX_INBOUND_STREAMS_PER_PROTOCOL,
      maxOutboundStreams: DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL,
    })
    expect(r.getLimits('/b')).toEqual({ maxInboundStreams: 1, maxOutboundStreams: 2 })
    // A protocol we only dial still gets bounded outbound streams.
    expect(r.getLimits('/dial-only').maxOutboundStreams).toBe(DEFAULT_MAX_OUTBOUND_STREAMS_PER_PROTOCOL)
  })

  it('rejects limits that are not non-negative integers', () => {
    const r = new Registrar()
    expect(() => r.handle('/a', noop, { maxInboundStreams: -1 })).toThrow(RangeError)
    expect(() => r.handle('/a', noop, { maxOutboundStreams: 1.5 })).toThrow(RangeError)
    expect(r.getProtocols()).toEqual([])
    r.handle('/a', noop, { maxInboundStreams: Infinity })
    expect(r.getLimits('/a').maxInboundStreams).toBe(Infinity)
  })

  it('rejects protocol ids multistream-select cannot carry', () => {
    const r = new Registrar()
    // 'na', 'ls' and the header are multistream-select messages, never protocol ids.
    for (const bad of ['', 'a\nb', 'x'.repeat(MAX_PROTOCOL_ID_BYTES + 1), 'na', 'ls', '/multistream/1.0.0']) {
      expect(() => r.handle(bad, noop)).toThrow(InvalidProtocolIdError)
    }
    // Multi-byte characters count as their UTF-8 length.
    expect(() => r.handle('é'.repeat(512), noop)).toThrow(InvalidProtocolIdError)
    r.handle('x'.repeat(MAX_PROTOCOL_ID_BYTES), noop)
    expect(r.getProtocols()).toHaveLength(1)
  })

  it('rejects a handler that is not a function', () => {
    const r = new Registrar()
    expect(() => r.handle('/a', undefined as unknown as typeof noop)).toThrow(TypeError)
  })
})
