/**
 * Pinning for the load benchmark (Linux `taskset`): the load generator on one core and the server under load on
 * another, so that neither takes the other's core and the scheduler's choices do not add to the noise.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'

export interface CpuPinning {
  /** The bench process (autocannon) runs here. */
  loadCpu: number
  /** Every server runs here. */
  serverCpu: number
  /** Puts the bench process back on every core. */
  release(): void
}

/** Pins this process (all its threads) to one core; undefined when there is no second core or no taskset. */
export function pinLoadAndServer(): CpuPinning | undefined {
  const cpus = os.availableParallelism()
  if (process.platform !== 'linux' || cpus < 2) return undefined
  const everyCpu = `0-${cpus - 1}`
  try {
    setAffinity(process.pid, '0')
  } catch {
    return undefined
  }
  return {
    loadCpu: 0,
    serverCpu: 1,
    release: () => {
      try {
        setAffinity(process.pid, everyCpu)
      } catch {
        // the process keeps one core: only the following benchmarks are slower
      }
    },
  }
}

/** Moves every thread of a process onto the listed cores (`0`, `0-1`). */
export function setAffinity(pid: number, cpuList: string): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpuList, String(pid)], {
    stdio: 'ignore',
  })
}
