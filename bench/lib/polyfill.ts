/**
 * libp2p v3 packages (the @libp2p/mplex and @libp2p/multistream-select
 * anchors) call Promise.withResolvers, which Node 20 lacks (Bun and
 * Node >= 22 have it). Imported first by the bench entry points.
 */
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T | PromiseLike<T>) => void
    let reject!: (e: unknown) => void
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

export {}
