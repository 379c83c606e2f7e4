/** The part of snappyjs (a dependency of @ethereumjs/devp2p, which ships no types for it) the RLPx wire uses. */
declare module 'snappyjs' {
  export function compress(data: Uint8Array): Uint8Array
  export function uncompress(data: Uint8Array, maxLength?: number): Uint8Array
}
