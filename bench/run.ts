/**
 * Runs every benchmark in bench/benchmarks/ (in file-name order), prints each figure beside its target, writes
 * bench/results/<timestamp>.json and regenerates the results table in bench/README.md.
 *
 *   npm run bench               about 9 minutes
 *   npm run bench -- --quick    fewer rounds and iterations, under 2 minutes
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { formatTarget, meetsTarget } from './stats.js'
import { BENCH_DIR, formatDuration, prettierFormat, RESULTS_DIR, summarize } from './summarize.js'
import type { Benchmark, BenchResult, BenchRun } from './types.js'

const args = process.argv.slice(2)
const unknown = args.filter((arg) => arg !== '--quick')
if (unknown.length > 0) {
  console.error(`bench: unknown argument ${unknown.join(' ')}; the only option is --quick`)
  process.exit(2)
}
const quick = args.includes('--quick')

const started = performance.now()
const startedAt = new Date()
const run: BenchRun = {
  startedAt: startedAt.toISOString(),
  durationMs: 0,
  mode: quick ? 'quick' : 'full',
  commit: gitCommit(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
  },
  benchmarks: [],
}
const { machine } = run
console.log(
  `tripwire bench (${run.mode}): ${machine.cpus} × ${machine.cpuModel}, ` +
    `${(machine.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${machine.node}, V8 ${machine.v8}, ` +
    `${machine.platform} ${machine.arch}`,
)

const dir = join(BENCH_DIR, 'benchmarks')
const files = (await readdir(dir)).filter((file) => file.endsWith('.ts')).sort()
let failed = false
for (const file of files) {
  const module = (await import(pathToFileURL(join(dir, file)).href)) as Partial<Benchmark>
  if (typeof module.name !== 'string' || typeof module.run !== 'function') {
    throw new Error(`bench/benchmarks/${file} must export name and run(options)`)
  }
  const { name } = module
  console.log(`\n${name}`)
  const benchStarted = performance.now()
  try {
    const results = await module.run({ quick, log: (line) => console.log(`  · ${line}`) })
    const durationMs = Math.round(performance.now() - benchStarted)
    for (const result of results) console.log(`  ${describe(result)}`)
    console.log(`  (${formatDuration(durationMs)})`)
    run.benchmarks.push({ name, durationMs, results })
  } catch (error) {
    // A broken benchmark is reported and the others still run; a slow figure never fails anything
    failed = true
    console.error(`  ${name} failed:`, error)
  }
}

run.durationMs = Math.round(performance.now() - started)
await mkdir(RESULTS_DIR, { recursive: true })
const resultsFile = join(RESULTS_DIR, `${startedAt.toISOString().replaceAll(':', '-')}.json`)
await writeFile(resultsFile, await prettierFormat(`${JSON.stringify(run, null, 2)}\n`, resultsFile))
await summarize()
console.log(
  `\n${formatDuration(run.durationMs)} in all; wrote ${resultsFile} and the table in bench/README.md`,
)
if (failed) process.exitCode = 1

function describe(result: BenchResult): string {
  const figure = `${result.label}: ${result.value} ${result.unit}`
  const spread =
    result.spread === undefined
      ? ''
      : ` (min ${result.spread.min}, max ${result.spread.max}, ${result.spread.rounds} rounds)`
  const met = meetsTarget(result)
  const target =
    met === undefined
      ? '  [no target: reported]'
      : `  [target ${formatTarget(result.target, result.unit)}: ${met ? 'met' : 'NOT met'}]`
  return `${figure}${spread}${target}`
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_DIR, encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}
