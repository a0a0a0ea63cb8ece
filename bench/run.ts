/**
 * Runs every benchmark in bench/benchmarks/ (in file-name order), prints each figure beside its target, writes
 * bench/results/<timestamp>.json and, after a full run of every benchmark, regenerates the results table in
 * bench/README.md.
 *
 *   npm run bench                                about 10 minutes
 *   npm run bench -- --quick                     fewer rounds and iterations, under 2 minutes
 *   npm run bench -- --only load-overhead,…      some benchmarks only
 *   npm run bench -- --results-dir DIR           write the results file there instead
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { formatTarget, meetsTarget } from './stats.js'
import {
  BENCH_DIR,
  formatDuration,
  isSummarized,
  prettierFormat,
  RESULTS_DIR,
  resultsFileName,
  summarize,
} from './summarize.js'
import type { Benchmark, BenchResult, BenchRun } from './types.js'

const USAGE = 'usage: bench/run.ts [--quick] [--only NAME[,NAME…]] [--results-dir DIR]'
let args
try {
  args = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'results-dir': { type: 'string' },
    },
  }).values
} catch (error) {
  console.error(`bench: ${(error as Error).message}\n${USAGE}`)
  process.exit(2)
}
const quick = args.quick
const resultsDir = args['results-dir'] === undefined ? RESULTS_DIR : resolve(args['results-dir'])

const started = performance.now()
const startedAt = new Date()
const run: BenchRun = {
  startedAt: startedAt.toISOString(),
  durationMs: 0,
  mode: quick ? 'quick' : 'full',
  ...(args.only !== undefined && { only: args.only.split(',') }),
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
const benchmarks: Benchmark[] = []
for (const file of files) {
  const module = (await import(pathToFileURL(join(dir, file)).href)) as Partial<Benchmark>
  if (typeof module.name !== 'string' || typeof module.run !== 'function') {
    throw new Error(`bench/benchmarks/${file} must export name and run(options)`)
  }
  benchmarks.push(module as Benchmark)
}
const names = benchmarks.map((benchmark) => benchmark.name)
const unknown = run.only?.filter((name) => !names.includes(name)) ?? []
if (unknown.length > 0) {
  console.error(`bench: no benchmark named ${unknown.join(', ')}; there are ${names.join(', ')}`)
  process.exit(2)
}

let failed = false
for (const module of benchmarks) {
  const { name } = module
  if (run.only !== undefined && !run.only.includes(name)) continue
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
await mkdir(resultsDir, { recursive: true })
const resultsFile = join(resultsDir, resultsFileName(run))
await writeFile(resultsFile, await prettierFormat(`${JSON.stringify(run, null, 2)}\n`, resultsFile))
// Only a complete full run in the committed results folder stands for the project in bench/README.md
const summarized = !failed && resultsDir === RESULTS_DIR && isSummarized(run)
if (summarized) await summarize()
console.log(
  `\n${formatDuration(run.durationMs)} in all; wrote ${resultsFile}` +
    (summarized ? ' and the table in bench/README.md' : ' (bench/README.md is left as it was)'),
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
