import { fileURLToPath } from 'node:url'

/** A script URL as people and pprof tools read it: file URLs as paths, others (`node:internal/…`) as they are. */
export function scriptPath(url: string): string {
  if (!url.startsWith('file:')) return url
  try {
    return fileURLToPath(url)
  } catch {
    // a file URL with a host, on POSIX: show it rather than fail the whole conversion
    return url
  }
}
