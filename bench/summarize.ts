/**
 * Regenerates the results table in bench/README.md (between the results markers) from the newest full run of
 * every benchmark in bench/results/. `bench/run.ts` calls it after such a run; run it alone with
 * `node --import tsx bench/summarize.ts`.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { format, resolveConfig } from 'prettier'
import { formatTarget, meetsTarget } from './stats.js'
import type { BenchResult, BenchRun } from './types.js'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const RESULTS_DIR = join(BENCH_DIR, 'results')
export const README = join(BENCH_DIR, 'README.md')
const START = '<!-- results:start -->'
const END = '<!-- results:end -->'

/** Formats text as Prettier would for this path, so that `prettier --check` passes on generated files. */
export async function prettierFormat(text: string, path: string): Promise<string> {
  const config = (await resolveConfig(path)) ?? {}
  return format(text, { ...config, filepath: path })
}

/**
 * `<ISO timestamp>.json` for a full run of every benchmark; quick and partial runs carry a suffix, which keeps
 * them out of the summary and out of git (see .gitignore).
 */
export function resultsFileName(run: BenchRun): string {
  const stamp = run.startedAt.replaceAll(':', '-')
  const suffix = run.mode === 'quick' ? '-quick' : run.only !== undefined ? '-partial' : ''
  return `${stamp}${suffix}.json`
}

/** Whether a run stands for the project in bench/README.md: a full run of every benchmark. */
export function isSummarized(run: BenchRun): boolean {
  return run.mode === 'full' && run.only === undefined
}

/** The newest full run's file (the names are ISO timestamps, which sort by time); undefined when none. */
export async function newestResults(dir = RESULTS_DIR): Promise<string | undefined> {
  const files = (await readdir(dir)).filter((file) => /^[0-9TZ.-]+\.json$/.test(file)).sort()
  const newest = files.at(-1)
  return newest === undefined ? undefined : join(dir, newest)
}

/** Rewrites the README's results section from the newest results file; returns that file's path. */
export async function summarize(resultsDir = RESULTS_DIR, readmePath = README): Promise<string> {
  const file = await newestResults(resultsDir)
  if (file === undefined) throw new Error(`summarize: no results in ${resultsDir}; run npm run bench first`)
  const run = JSON.parse(await readFile(file, 'utf8')) as BenchRun
  const readme = await readFile(readmePath, 'utf8')
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end < start)
    throw new Error(`summarize: ${readmePath} lacks the ${START} … ${END} markers`)
  const section = resultsSection(run, file.slice(dirname(BENCH_DIR).length + 1))
  const updated = `${readme.slice(0, start + START.length)}\n\n${section}\n\n${readme.slice(end)}`
  await writeFile(readmePath, await prettierFormat(updated, readmePath))
  return file
}

function resultsSection(run: BenchRun, file: string): string {
  const { machine } = run
  const gib = (machine.totalMemoryBytes / 2 ** 30).toFixed(1)
  const lines = [
    `From \`${file}\`: a ${run.mode} run started ${run.startedAt}, ${formatDuration(run.durationMs)} in all` +
      `${run.commit === null ? '' : ` (commit ${run.commit})`}.`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${gib} GiB, Node ${machine.node} (V8 ${machine.v8}), ` +
      `${machine.platform} ${machine.arch}.`,
    '',
    '| Figure | Median | Min | Max | Rounds | Target | Met | Note |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
  ]
  for (const benchmark of run.benchmarks) {
    for (const result of benchmark.results) lines.push(row(result))
  }
  return lines.join('\n')
}

function row(result: BenchResult): string {
  const met = meetsTarget(result)
  const cells = [
    `${result.label} \`${result.id}\``,
    `${result.value} ${result.unit}`,
    result.spread === undefined ? '' : String(result.spread.min),
    result.spread === undefined ? '' : String(result.spread.max),
    result.spread === undefined ? '' : String(result.spread.rounds),
    formatTarget(result.target, result.unit),
    met === undefined ? '' : met ? 'yes' : '**no**',
    result.note ?? '',
  ]
  return `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000)
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = await summarize()
  console.log(`bench/README.md: results table regenerated from ${file}`)
}
