import { readFile, stat } from 'node:fs/promises'
import type { CpuProfile, HeapProfile } from '@tripwire/core'
import { fileError } from './atomic-file.js'
import { runtimeError } from './cli-error.js'

/** Near V8's longest string: a larger file cannot be parsed as JSON in one piece anyway. */
const MAX_PROFILE_BYTES = 512 * 1024 * 1024

export type LoadedProfile = { kind: 'cpu'; profile: CpuProfile } | { kind: 'heap'; profile: HeapProfile }

/**
 * A `.cpuprofile` or `.heapprofile`, told apart by content rather than by name: a downloaded file may have
 * been renamed, and a name proves nothing. Anything else is one line saying what the file is instead.
 */
export async function readProfile(path: string): Promise<LoadedProfile> {
  let bytes: Buffer
  try {
    const found = await stat(path)
    if (found.isDirectory()) throw runtimeError(`${path} is a directory, not a profile`)
    if (found.size > MAX_PROFILE_BYTES) {
      throw runtimeError(
        `${path} is ${found.size} bytes, more than a profile this command can read (512 MiB)`,
      )
    }
    bytes = await readFile(path)
  } catch (error) {
    throw fileError(path, error)
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw runtimeError(
      `${path} is gzip, likely a pprof profile (.pb.gz); read it with: go tool pprof -top ${path}`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw runtimeError(`${path} is not a .cpuprofile or .heapprofile: it is not JSON`)
  }
  if (isCpuProfile(parsed)) return { kind: 'cpu', profile: parsed }
  if (isHeapProfile(parsed)) return { kind: 'heap', profile: parsed }
  const fields = parsed as Record<string, unknown> | null
  if (typeof fields === 'object' && fields !== null && 'snapshot' in fields && 'strings' in fields) {
    throw runtimeError(
      `${path} is a heap snapshot: a graph of objects, with no sampled stacks to rank or convert; open it in ` +
        'Chrome DevTools (Memory panel)',
    )
  }
  throw runtimeError(`${path} is JSON, but not a .cpuprofile (nodes, samples) or a .heapprofile (head)`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isNumberArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === 'number')
}

/** What the summaries and converters read of a call frame, so they cannot trip over a malformed one. */
function isCallFrame(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.functionName === 'string' &&
    typeof value.url === 'string' &&
    typeof value.lineNumber === 'number' &&
    typeof value.columnNumber === 'number'
  )
}

function isCpuProfile(value: unknown): value is CpuProfile {
  return (
    isRecord(value) &&
    typeof value.startTime === 'number' &&
    typeof value.endTime === 'number' &&
    Array.isArray(value.nodes) &&
    value.nodes.every(
      (node) =>
        isRecord(node) &&
        typeof node.id === 'number' &&
        isCallFrame(node.callFrame) &&
        (node.children === undefined || isNumberArray(node.children)),
    ) &&
    (value.samples === undefined || isNumberArray(value.samples)) &&
    (value.timeDeltas === undefined || isNumberArray(value.timeDeltas))
  )
}

function isHeapProfile(value: unknown): value is HeapProfile {
  if (!isRecord(value) || !isRecord(value.head)) return false
  // iterative: allocation stacks can be deeper than is safe to recurse on
  const pending: unknown[] = [value.head]
  while (pending.length > 0) {
    const node = pending.pop()
    if (
      !isRecord(node) ||
      typeof node.id !== 'number' ||
      typeof node.selfSize !== 'number' ||
      !isCallFrame(node.callFrame) ||
      !Array.isArray(node.children)
    ) {
      return false
    }
    for (const child of node.children as unknown[]) pending.push(child)
  }
  return value.samples === undefined || Array.isArray(value.samples)
}
