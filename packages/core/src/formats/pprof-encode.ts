import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { Profile } from 'pprof-format'

const gzipAsync = promisify(gzip)

/**
 * The profile as a gzipped protobuf (`.pb.gz`), the form `go tool pprof`, Pyroscope and Parca read.
 * encodeAsync yields to the event loop between sections and gzip runs on the thread pool, so a large
 * profile does not stall the service it was taken from.
 */
export async function encodePprofGzip(profile: Profile): Promise<Buffer> {
  return gzipAsync(await profile.encodeAsync())
}
