import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CliError, runtimeError } from './cli-error.js'

/**
 * Profiles hold function names, paths and (heap snapshots) the process's memory: readable by the owner only,
 * like the files a service's LocalDiskSink writes.
 */
const FILE_MODE = 0o600

/** A file being written beside its destination, so that the final rename stays on one file system. */
export interface PendingFile {
  readonly path: string
  readonly handle: FileHandle
  /** Forgets the interrupt handler that removes the file on Ctrl-C. */
  readonly release: () => void
}

/** Signals that end a download half-way; the temporary file goes with them. */
const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Refuses a destination that is a directory, and an existing file unless `force`; before any work. */
export async function refuseExisting(path: string, force: boolean): Promise<void> {
  const found = await stat(path).catch(() => undefined)
  if (found === undefined) return
  if (found.isDirectory()) throw runtimeError(`${path} is a directory; give a file name, as in -o DIR/NAME`)
  if (!force) throw alreadyExists(path)
}

/** Creates a temporary file beside `destination`: `.<name>.<random>.part`, never an existing file. */
export async function createPending(destination: string): Promise<PendingFile> {
  const path = join(dirname(destination), `.${basename(destination)}.${randomBytes(4).toString('hex')}.part`)
  let handle: FileHandle
  try {
    handle = await open(path, 'wx', FILE_MODE)
  } catch (error) {
    throw fileError(dirname(destination), error)
  }
  // a Ctrl-C would otherwise leave a .part file behind; 128 + the signal's number, as a shell reports it
  const onSignal = (signal: NodeJS.Signals): void => {
    try {
      unlinkSync(path)
    } catch {
      // already gone
    }
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
  }
  for (const signal of INTERRUPTS) process.once(signal, onSignal)
  const release = () => {
    for (const signal of INTERRUPTS) process.off(signal, onSignal)
  }
  return { path, handle, release }
}

/**
 * Flushes the temporary file and moves it to `destination` in one step, so a reader sees the whole file or
 * none. Without `force` a hard link does the move, which fails rather than replace a file created meanwhile.
 */
export async function commit(pending: PendingFile, destination: string, force: boolean): Promise<void> {
  try {
    pending.release()
    await pending.handle.sync()
    await pending.handle.close()
    if (force) {
      await rename(pending.path, destination)
      return
    }
    try {
      await link(pending.path, destination)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') throw alreadyExists(destination)
      // file systems without hard links (FAT, some network shares): the check-then-rename is the best left
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error
      if ((await stat(destination).catch(() => undefined)) !== undefined) throw alreadyExists(destination)
      await rename(pending.path, destination)
      return
    }
    await unlink(pending.path)
  } catch (error) {
    await discard(pending)
    throw fileError(destination, error)
  }
}

/** Closes and removes the temporary file; for a failed or refused download. Never throws. */
export async function discard(pending: PendingFile): Promise<void> {
  pending.release()
  await pending.handle.close().catch(() => undefined)
  await unlink(pending.path).catch(() => undefined)
}

/** Writes `bytes` to `destination` through a temporary file: whole or not at all. */
export async function writeFileAtomically(
  destination: string,
  bytes: Uint8Array,
  force: boolean,
): Promise<void> {
  const pending = await createPending(destination)
  try {
    await pending.handle.writeFile(bytes)
  } catch (error) {
    await discard(pending)
    throw fileError(destination, error)
  }
  await commit(pending, destination, force)
}

function alreadyExists(path: string): CliError {
  return runtimeError(`${path} already exists; pass --force to replace it, or -o FILE for another name`)
}

/** One line for a file system failure, naming the path; a CliError passes through as it is. */
export function fileError(path: string, error: unknown): CliError {
  if (error instanceof CliError) return error
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return runtimeError(`${path}: no such file or directory`)
  if (code === 'EACCES' || code === 'EPERM') return runtimeError(`${path}: permission denied`)
  if (code === 'ENOSPC') return runtimeError(`${path}: no space left on the device`)
  if (code === 'EISDIR') return runtimeError(`${path} is a directory; give a file name`)
  if (code === 'EROFS') return runtimeError(`${path}: read-only file system`)
  return runtimeError(`${path}: ${error instanceof Error ? error.message : String(error)}`)
}
