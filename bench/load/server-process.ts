/**
 * Starts bench/load/server.ts in a process of its own and waits for its `{"port":…,"pid":…}` line. Shared by
 * the load-overhead benchmark and bench/self-profile.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { BENCH_DIR } from '../summarize.js'
import { setAffinity } from './cpu-pinning.js'
import type { Framework, Handler, Scenario } from './scenarios.js'

const SERVER = join(BENCH_DIR, 'load', 'server.ts')
// A server has this long to print its port
const READY_TIMEOUT_MS = 30_000

export interface ServerProcess {
  scenario: Scenario
  child: ChildProcess
  pid: number
  port: number
}

export interface ServerProcessOptions {
  framework: Framework
  handler: Handler
  scenario: Scenario
  /** burnCpu iterations for the `cpu` handler. */
  iterations: number
  /** How long a capture started at launch runs. */
  captureMs: number
  /** Where captures are stored. */
  dir: string
  /** Start a CPU capture in a scenario that has none (`--self-profile`). */
  selfProfile?: boolean
  /** `bare-and-idle` also serves Tripwire's work in parts (`--parts`). */
  parts?: boolean
  /**
   * The core to run on once ready (Linux `taskset`), so that the server and the load generator never share a
   * core. Servers start on every core, which keeps start-up short.
   */
  cpu?: number
}

export async function startServer(options: ServerProcessOptions): Promise<ServerProcess> {
  const { framework, handler, scenario } = options
  const args = [
    '--import',
    'tsx',
    SERVER,
    ...['--framework', framework, '--scenario', scenario, '--handler', handler],
    ...['--cpu-iterations', String(options.iterations), '--capture-ms', String(options.captureMs)],
    ...['--dir', options.dir],
    ...(options.selfProfile === true ? ['--self-profile'] : []),
    ...(options.parts === true ? ['--parts'] : []),
  ]
  // stdin is a pipe the server watches, so that it ends with this process however this process ends
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const timeout = AbortSignal.timeout(READY_TIMEOUT_MS)
  try {
    const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
      timeout.addEventListener('abort', () => reject(new Error(`${framework}/${scenario}: not ready`)))
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`${framework}/${scenario} exited (${code})`)))
      lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; pid: number }))
    })
    if (options.cpu !== undefined) setAffinity(ready.pid, String(options.cpu))
    return { scenario, child, ...ready }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  } finally {
    lines.close()
  }
}

/** Ends a server and resumes it first, should it be stopped, so that the kill is delivered. */
export function killServer(server: ServerProcess): void {
  try {
    process.kill(server.pid, 'SIGKILL')
    process.kill(server.pid, 'SIGCONT')
  } catch {
    // already gone
  }
}

/** Peak resident set size (VmHWM) of a process, in MB; undefined off Linux. */
export async function peakRssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}
