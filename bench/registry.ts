import { bulk } from './bulk'
import { connect } from './connect'
import { importBench } from './import'
import { memory } from './memory'
import { metrics } from './metrics'
import { muxer } from './muxer'
import { network } from './network'
import { reqresp } from './reqresp'
import { rlpx } from './rlpx'
import { snappy } from './snappy'
import { sync } from './sync'
import type { Bench } from './lib/bench'

/** Every benchmark, in the order `npm run bench` runs them. */
export const BENCHES: Bench[] = [connect, bulk, muxer, reqresp, metrics, memory, network, sync, importBench, snappy, rlpx]
