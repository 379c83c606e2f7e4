import net from 'node:net'
import debug from 'debug'
import type { HostPort } from '../connection'
import { abortReason, anySignal } from '../util/abort'
import { createDeadline } from '../util/timeout'
import { DialError, DialTimeoutError } from './errors'

const log = debug('p2p:transport')

/**
 * Opens a TCP socket, bounded by `timeoutMs` and `signal`; the socket is
 * destroyed on failure. `open` creates the socket (tests pass one that never
 * connects, since nothing on 127.0.0.1 leaves a SYN unanswered).
 */
export function connectTcp(
  addr: HostPort,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  open: (addr: HostPort) => net.Socket = (a) => net.connect({ host: a.host, port: a.port }),
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const deadline = createDeadline(timeoutMs, () => new DialTimeoutError(addr, timeoutMs))
    const linked = anySignal([signal, deadline.signal])
    const socket = open(addr)
    const cleanup = (): void => {
      socket.off('connect', onConnect)
      socket.off('error', onError)
      linked.signal.removeEventListener('abort', onAbort)
      linked.clear()
      deadline.clear()
    }
    const onConnect = (): void => {
      cleanup()
      // multistream-select is chatty small messages; Nagle would add a delay per round trip.
      socket.setNoDelay(true)
      resolve(socket)
    }
    const onError = (err: Error): void => {
      cleanup()
      socket.destroy()
      log('dial %s:%d failed: %s', addr.host, addr.port, err.message)
      reject(new DialError(addr, err))
    }
    const onAbort = (): void => {
      cleanup()
      socket.destroy()
      const err = deadline.expired ? (deadline.signal.reason as Error) : abortReason(linked.signal, 'dial')
      log('dial %s:%d: %s', addr.host, addr.port, err.message)
      reject(err)
    }
    socket.once('connect', onConnect)
    socket.on('error', onError)
    if (linked.signal.aborted) onAbort()
    else linked.signal.addEventListener('abort', onAbort, { once: true })
  })
}
