import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { load, type LoadResult } from '../load/load.js'
import { burnCpu, FRAMEWORKS, type Framework, type Handler, type Scenario } from '../load/scenarios.js'
import { median, round, summarize } from '../stats.js'
import { BENCH_DIR } from '../summarize.js'
import type { BenchOptions, BenchResult, BenchTarget } from '../types.js'

export const name = 'load-overhead'

const SERVER = join(BENCH_DIR, 'load', 'server.ts')
const CONNECTIONS = 16
const CPU_HANDLER_MS = 1
// Bounds: a server has this long to print its port; a whole group (one framework × handler) at most this long
const READY_TIMEOUT_MS = 30_000
const MAX_CAPTURE_MS = 300_000

interface Plan {
  rounds: number
  roundSec: number
  warmupSec: number
  scenarios: Record<Handler, Scenario[]>
}

const FULL: Plan = {
  rounds: 5,
  roundSec: 2,
  warmupSec: 1,
  scenarios: {
    tiny: ['bare', 'idle', 'attack'],
    cpu: ['idle', 'cpu-capture', 'cpu-capture-100us', 'cpu-capture-10ms', 'heap-capture', 'peer'],
  },
}
const QUICK: Plan = {
  rounds: 3,
  roundSec: 0.6,
  warmupSec: 0.3,
  scenarios: { tiny: ['bare', 'idle', 'attack'], cpu: ['idle', 'cpu-capture', 'peer'] },
}

/** A figure: scenario over baseline, per round, on one handler. */
interface Ratio {
  key: string
  label: string
  handler: Handler
  scenario: Scenario
  baseline: Scenario
  target?: BenchTarget
}

const RATIOS: Ratio[] = [
  {
    key: 'idle-vs-bare',
    label: 'idle vs bare',
    handler: 'tiny',
    scenario: 'idle',
    baseline: 'bare',
    target: { min: 0.99 },
  },
  {
    key: 'attack-vs-bare',
    label: 'attack vs bare',
    handler: 'tiny',
    scenario: 'attack',
    baseline: 'bare',
    target: { min: 0.95 },
  },
  {
    key: 'cpu-capture-vs-idle',
    label: 'CPU capture (1 ms) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture',
    baseline: 'idle',
    target: { min: 0.97 },
  },
  {
    key: 'cpu-capture-100us-vs-idle',
    label: 'CPU capture (100 µs) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture-100us',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-10ms-vs-idle',
    label: 'CPU capture (10 ms) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture-10ms',
    baseline: 'idle',
  },
  {
    key: 'heap-capture-vs-idle',
    label: 'heap capture vs idle',
    handler: 'cpu',
    scenario: 'heap-capture',
    baseline: 'idle',
  },
  {
    key: 'peer-vs-idle',
    label: '@datadog/pprof time profiler vs idle',
    handler: 'cpu',
    scenario: 'peer',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-vs-peer',
    label: 'CPU capture (1 ms) vs @datadog/pprof',
    handler: 'cpu',
    scenario: 'cpu-capture',
    baseline: 'peer',
    target: { min: 1 },
  },
]

interface Server {
  scenario: Scenario
  child: ChildProcess
  pid: number
  port: number
}

/**
 * Iterations of burnCpu that take ~1 ms here, measured once in this process: every server gets the same
 * count, so the work per request is identical across scenarios.
 */
function calibrate(): number {
  const probe = 200_000
  for (let i = 0; i < 50; i++) burnCpu(probe)
  const samples: number[] = []
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now()
    burnCpu(probe)
    samples.push(performance.now() - t0)
  }
  return Math.max(1, Math.round((probe * CPU_HANDLER_MS) / median(samples)))
}

async function startServer(
  framework: Framework,
  handler: Handler,
  scenario: Scenario,
  extra: { iterations: number; captureMs: number; dir: string },
): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SERVER,
      ...['--framework', framework, '--scenario', scenario, '--handler', handler],
      ...['--cpu-iterations', String(extra.iterations), '--capture-ms', String(extra.captureMs)],
      ...['--dir', extra.dir],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout })
  const timeout = AbortSignal.timeout(READY_TIMEOUT_MS)
  try {
    const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
      timeout.addEventListener('abort', () => reject(new Error(`${framework}/${scenario}: not ready`)))
      child.once('exit', (code) => reject(new Error(`${framework}/${scenario} exited (${code})`)))
      lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; pid: number }))
    })
    return { scenario, child, ...ready }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  } finally {
    lines.close()
  }
}

/** Peak resident set size (VmHWM) of a process, in MB; undefined off Linux. */
async function peakRssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/**
 * Runs load on one server. The servers not under test are stopped (SIGSTOP), so that an idle profiler's
 * sampling thread in one server cannot take CPU from another's round on two cores.
 */
async function round1(server: Server, seconds: number): Promise<LoadResult> {
  process.kill(server.pid, 'SIGCONT')
  await sleep(50)
  try {
    return await load({
      port: server.port,
      durationSec: seconds,
      connections: CONNECTIONS,
      attack: server.scenario === 'attack',
    })
  } finally {
    process.kill(server.pid, 'SIGSTOP')
  }
}

interface GroupOutcome {
  framework: Framework
  handler: Handler
  perRound: Map<Scenario, LoadResult[]>
  rssMb: Partial<Record<Scenario, number>>
  loadSec: number
}

async function runGroup(
  framework: Framework,
  handler: Handler,
  plan: Plan,
  iterations: number,
  log: (line: string) => void,
): Promise<GroupOutcome> {
  const scenarios = plan.scenarios[handler]
  const groupSec = scenarios.length * (plan.warmupSec + plan.rounds * plan.roundSec)
  const captureMs = Math.min(MAX_CAPTURE_MS, groupSec * 3000 + 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-load-'))
  const servers: Server[] = []
  try {
    // One server per scenario, kept alive (and stopped between its rounds) for the whole group. They start
    // side by side, before any load, to keep the run short.
    const started = await Promise.allSettled(
      scenarios.map((scenario) => startServer(framework, handler, scenario, { iterations, captureMs, dir })),
    )
    for (const outcome of started) if (outcome.status === 'fulfilled') servers.push(outcome.value)
    const failed = started.find((outcome) => outcome.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    for (const server of servers) process.kill(server.pid, 'SIGSTOP')
    for (const server of servers) await round1(server, plan.warmupSec)
    const perRound = new Map<Scenario, LoadResult[]>(scenarios.map((s) => [s, []]))
    for (let r = 0; r < plan.rounds; r++) {
      // Interleaved: every scenario once per round, starting one later each round (A B C, B C A, …)
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(r + i) % servers.length]!
        perRound.get(server.scenario)!.push(await round1(server, plan.roundSec))
      }
    }
    const rssMb: Partial<Record<Scenario, number>> = {}
    for (const server of servers) {
      const mb = await peakRssMb(server.pid)
      if (mb !== undefined) rssMb[server.scenario] = mb
    }
    const summary = scenarios
      .map((s) => `${s} ${Math.round(median(perRound.get(s)!.map((x) => x.requestsPerSec)))}`)
      .join(', ')
    log(`${framework}/${handler}: req/s ${summary}`)
    return { framework, handler, perRound, rssMb, loadSec: plan.warmupSec + plan.rounds * plan.roundSec }
  } finally {
    for (const server of servers) {
      server.child.kill('SIGKILL')
      try {
        process.kill(server.pid, 'SIGCONT')
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true })
  }
}

function results(outcome: GroupOutcome, plan: Plan): BenchResult[] {
  const { framework, handler, perRound } = outcome
  const out: BenchResult[] = []
  for (const ratio of RATIOS) {
    if (ratio.handler !== handler) continue
    const num = perRound.get(ratio.scenario)
    const den = perRound.get(ratio.baseline)
    if (num === undefined || den === undefined) continue
    const ratios = num.map((x, i) => x.requestsPerSec / den[i]!.requestsPerSec)
    const { value, min, max } = summarize(ratios)
    const bad = [...num, ...den].reduce((sum, x) => sum + x.errors + x.timeouts + x.non2xx, 0)
    const rps = (list: LoadResult[]) => Math.round(median(list.map((x) => x.requestsPerSec)))
    const p99 = (list: LoadResult[]) => median(list.map((x) => x.latencyP99Ms))
    out.push({
      id: `load-overhead.${framework}.${handler}.${ratio.key}`,
      label: `${framework}, ${handler} handler: ${ratio.label} (req/s)`,
      value: round(value),
      unit: '×',
      ...(ratio.target === undefined ? {} : { target: ratio.target }),
      note:
        `median req/s ${rps(num)} vs ${rps(den)}; p99 ${p99(num)} vs ${p99(den)} ms; ` +
        `${CONNECTIONS} connections, ${plan.roundSec} s rounds` +
        (bad > 0 ? `; ${bad} errors/timeouts/non-2xx` : ''),
      spread: { min: round(min), max: round(max), rounds: ratios.length },
    })
  }
  const { rssMb } = outcome
  if (rssMb['cpu-capture'] !== undefined && rssMb.idle !== undefined) {
    out.push({
      id: `load-overhead.${framework}.${handler}.cpu-capture-peak-rss-added`,
      label: `${framework}, ${handler} handler: peak RSS, CPU capture minus idle`,
      value: round(rssMb['cpu-capture'] - rssMb.idle),
      unit: 'MB',
      note:
        `VmHWM ${round(rssMb['cpu-capture'])} vs ${round(rssMb.idle)} MB after ${outcome.loadSec} s of load ` +
        `each; the 30 s-capture figure (target ≤ 20 MB) is pending`,
    })
  }
  return out
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const { quick } = options
  const log = (line: string): void => options.log(line)
  const plan = quick ? QUICK : FULL
  const iterations = calibrate()
  log(`CPU handler: ${iterations} iterations of burnCpu ≈ ${CPU_HANDLER_MS} ms (calibrated here)`)
  const out: BenchResult[] = []
  for (const framework of FRAMEWORKS) {
    for (const handler of ['tiny', 'cpu'] as const) {
      out.push(...results(await runGroup(framework, handler, plan, iterations, log), plan))
    }
  }
  return out
}
