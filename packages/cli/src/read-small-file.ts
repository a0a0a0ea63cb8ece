import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { CliError, runtimeError } from './cli-error.js'

/** Secrets and PEM keys are a few KiB at most; the bound stops a wrong path such as /dev/zero from hanging. */
const MAX_BYTES = 64 * 1024

export interface SmallFile {
  bytes: Buffer
  /** Permission bits when the file is a regular file; pipes (`<(pass show …)`) and devices have none. */
  mode: number | undefined
}

/**
 * Reads a file of at most 64 KiB, following pipes and process substitution too. Failures become one-line
 * runtime errors that name the flag and the path, never the content.
 */
export function readSmallFile(flag: string, path: string): SmallFile {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    throw runtimeError(`${flag} ${path}: ${describe(error)}`)
  }
  try {
    const stat = fstatSync(fd)
    if (stat.isDirectory()) throw runtimeError(`${flag} ${path}: is a directory, not a file`)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.alloc(Math.min(16 * 1024, MAX_BYTES + 1 - total))
      const read = readSync(fd, chunk, 0, chunk.length, null)
      if (read === 0) break
      chunks.push(chunk.subarray(0, read))
      total += read
      if (total > MAX_BYTES) throw runtimeError(`${flag} ${path}: is larger than 64 KiB, not a secret or key`)
    }
    return { bytes: Buffer.concat(chunks), mode: stat.isFile() ? stat.mode & 0o777 : undefined }
  } catch (error) {
    if (error instanceof CliError) throw error
    throw runtimeError(`${flag} ${path}: ${describe(error)}`)
  } finally {
    closeSync(fd)
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory, not a file'
  return error instanceof Error ? error.message : String(error)
}

/** A warning for a secret or key that other users can read, as ssh gives; `undefined` when it is private. */
export function exposureWarning(flag: string, path: string, file: SmallFile): string | undefined {
  if (file.mode === undefined || process.platform === 'win32' || (file.mode & 0o077) === 0) return undefined
  return `${flag} ${path} is accessible to other users (mode ${file.mode.toString(8)}); chmod 600 it`
}
