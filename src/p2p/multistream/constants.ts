/** The multistream-select 1.0 header, exchanged before any proposal. */
export const MULTISTREAM_PROTOCOL_ID = '/multistream/1.0.0'

/**
 * Messages that mean something to multistream-select itself and so can never
 * be protocol ids: a listener's refusal (`na`), the list request (`ls`) and the
 * header. Offering or proposing one would be ambiguous on the wire — a dialer
 * proposing "na" would read the listener's refusal as agreement.
 */
export const RESERVED_PROTOCOL_IDS: ReadonlySet<string> = new Set(['na', 'ls', MULTISTREAM_PROTOCOL_ID])

/**
 * Longest protocol id accepted or sent, in UTF-8 bytes (the newline is not
 * counted). The design fixes 1024. Note that go-multistream and
 * @libp2p/multistream-select cap the whole message, newline included, at 1024
 * bytes, so they refuse an id of exactly 1024 bytes; ids of <= 1023 bytes
 * interoperate everywhere.
 */
export const MAX_PROTOCOL_ID_LENGTH = 1024

/**
 * Default deadline for a whole negotiation. Negotiation is one round trip on a
 * healthy connection; 10 s tolerates slow links while bounding how long a
 * silent or trickling peer can hold a stream (and its buffers) hostage.
 */
export const DEFAULT_MSS_TIMEOUT_MS = 10_000

/**
 * Default number of proposals a listener refuses with `na` before it gives
 * up. Real dialers fall through a short list (a few protocol versions); a
 * peer proposing forever would otherwise keep the stream busy until timeout.
 */
export const DEFAULT_MAX_NA_COUNT = 32

/**
 * Default number of `ls` requests a listener answers per negotiation. One is
 * all a dialer needs; each answer costs a write of the whole protocol list, so
 * a request loop is cut short.
 */
export const DEFAULT_MAX_LS_COUNT = 4

/**
 * Default cap on an `ls` response a dialer accepts, in bytes: room for dozens
 * of maximal-length protocol ids while bounding what a listener can make us
 * buffer.
 */
export const DEFAULT_MAX_LS_RESPONSE_LENGTH = 64 * 1024
