export * from './abort'
export * from './timeout'
export * from './events'
export * from './bytes'
