/**
 * @tripwire/fastify: the Fastify adapter arrives with its own issue. Until then this package only re-exports the
 * core entry points so that it builds and can be depended on.
 */
export { createTripwire, LocalDiskSink } from '@tripwire/core'
