import { DISCONNECT_REASON } from '@ethereumjs/devp2p'
import { describe, expect, it } from 'vitest'

import { DisconnectReason, describeDisconnectReason, isDisconnectReason } from '../../../src/p2p'

describe('DisconnectReason', () => {
  it('has the numbers devp2p puts on the wire', () => {
    for (const [name, code] of Object.entries(DISCONNECT_REASON)) {
      if (typeof code !== 'number') continue
      expect(DisconnectReason[name as keyof typeof DisconnectReason], name).toBe(code)
    }
    expect(DisconnectReason.SUBPROTOCOL_ERROR).toBe(0x10)
  })

  it('describes known and unknown codes', () => {
    expect(describeDisconnectReason(DisconnectReason.SUBPROTOCOL_ERROR)).toBe('subprotocol error (0x10)')
    expect(describeDisconnectReason(0x0c)).toBe('unknown reason (0x0c)')
    expect(isDisconnectReason(0x0b)).toBe(true)
    expect(isDisconnectReason(0x0c)).toBe(false)
  })
})
