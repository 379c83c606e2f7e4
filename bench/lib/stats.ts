/** Small order statistics over samples (latencies in ms, rates per round). */

/** The q-quantile (0..1) by nearest rank on a sorted copy; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN
  if (q < 0 || q > 1) throw new RangeError(`quantile ${q} outside 0..1`)
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]!
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function p99(samples: readonly number[]): number {
  return quantile(samples, 0.99)
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN
  let sum = 0
  for (const s of samples) sum += s
  return sum / samples.length
}

export function min(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : Math.min(...samples)
}

export function max(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : Math.max(...samples)
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now()
}

/** Bytes per second expressed in MB/s (10^6 bytes). */
export function mbPerSec(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : Number.NaN
}

/** Operations per second. */
export function perSec(count: number, ms: number): number {
  return ms > 0 ? count / (ms / 1000) : Number.NaN
}
