export * from './errors'
export * from './transport'
export * from './listener'
export * from './eviction-budget'
