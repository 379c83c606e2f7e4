export * from './uvarint'
export * from './errors'
export * from './length-prefixed'
export { readAvailable, destroyWith } from './stream-read'
