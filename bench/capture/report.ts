/**
 * The subject's side of the protocol: one JSON line per message on stdout, which the benchmark reads line by
 * line (stderr is left to errors, which it passes through).
 */
import type { SubjectLine } from './protocol.js'

export function emit(line: SubjectLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** A line for the benchmark's log, so that a role that runs for seconds shows how far it has got. */
export function progress(message: string): void {
  emit({ event: 'progress', message })
}
