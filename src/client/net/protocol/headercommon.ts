import { paramsBlock } from '@ethereumjs/block'
import { Common, type ParamsDict } from '@ethereumjs/common'

/**
 * Commons for decoding headers in bulk.
 *
 * @ethereumjs/block's BlockHeader constructor copies the Common it is given
 * (cheap: a shallow copy) and then merges the block params into the copy:
 * a JSON round trip of each params entry plus a rebuild of the whole params
 * cache. Measured at ~70 us a header under Node 20 and Bun, that made
 * decoding one BlockHeaders reply of 192 headers cost ~14 ms, most of a
 * GetBlockHeaders round trip on either network path. A header of another
 * fork than the Common's pays a second rebuild in setHardforkBy.
 *
 * Both costs go away without changing what a header ends up with:
 * - the Common handed to the constructor is already at the header's fork
 *   (one template per fork, built once), so setHardforkBy changes nothing;
 * - the template has the block params merged already, and a
 *   ParamsOnceCommon skips a merge of the dictionary it merged last, which
 *   leaves its params and cache exactly as they are.
 */

const LAST_MERGED = Symbol('lastMergedParams')

/**
 * A Common that skips updateParams(p) when p is the dictionary it merged
 * last: merging it again would rewrite the same values and rebuild the same
 * cache (the cache is a function of params, hardfork and EIPs, and the other
 * two rebuild it whenever they change). Copies inherit the record, as they
 * inherit the params and cache it describes.
 */
class ParamsOnceCommon extends Common {
  declare [LAST_MERGED]: ParamsDict | undefined

  /** A copy of `common` with this class's updateParams; `common` itself is untouched. */
  static from(common: Common): ParamsOnceCommon {
    const copy = common.copy()
    Object.setPrototypeOf(copy, ParamsOnceCommon.prototype)
    return copy as ParamsOnceCommon
  }

  override updateParams(params: ParamsDict): void {
    if (this[LAST_MERGED] === params) return
    super.updateParams(params)
    this[LAST_MERGED] = params
  }

  override resetParams(params: ParamsDict): void {
    super.resetParams(params)
    this[LAST_MERGED] = undefined
  }
}

/** Per chain Common: its templates by hardfork name. Weak, so a discarded chain takes its templates along. */
const templates = new WeakMap<Common, Map<string, Common>>()

/**
 * The Common to build a header of (`number`, `timestamp`) with: a copy of
 * `common` at that header's fork with the block params merged. Shared by
 * every header of that fork; BlockHeader copies it, so no header can change
 * it for the others.
 */
export function headerCommon(common: Common, number: bigint, timestamp: bigint): Common {
  let forks = templates.get(common)
  if (forks === undefined) {
    forks = new Map()
    templates.set(common, forks)
  }
  const hardfork = common.getHardforkBy({ blockNumber: number, timestamp })
  let template = forks.get(hardfork)
  if (template === undefined) {
    const fresh = ParamsOnceCommon.from(common)
    fresh.setHardfork(hardfork)
    fresh.updateParams(paramsBlock)
    template = fresh
    forks.set(hardfork, template)
  }
  return template
}
