import { bulk } from './bulk'
import { connect } from './connect'
import { memory } from './memory'
import { muxer } from './muxer'
import { network } from './network'
import { reqresp } from './reqresp'
import { sync } from './sync'
import type { Bench } from './lib/bench'

/** Every benchmark, in the order `npm run bench` runs them. */
export const BENCHES: Bench[] = [connect, bulk, muxer, reqresp, memory, network, sync]
