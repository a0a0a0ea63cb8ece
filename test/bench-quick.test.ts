/**
 * The benchmark harness in quick mode, end to end, so that it never rots: every benchmark runs and reports a
 * finite figure for each of its results. Nothing here judges a figure: benchmarks report, they never fail the
 * suite on a time.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { BenchRun } from '../bench/types.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const README = join(ROOT, 'bench', 'README.md')
// The quick mode's budget is two minutes; the bound leaves room for a slower machine
const RUN_TIMEOUT_MS = 6 * 60_000

let resultsDir: string
before(async () => {
  resultsDir = await mkdtemp(join(tmpdir(), 'tripwire-bench-quick-'))
})
after(async () => {
  await rm(resultsDir, { recursive: true, force: true })
})

test(
  'npm run bench -- --quick runs every benchmark and writes one results file',
  { timeout: RUN_TIMEOUT_MS },
  async () => {
    const readmeBefore = await readFile(README, 'utf8')
    const benchmarkFiles = (await readdir(join(ROOT, 'bench', 'benchmarks'))).filter((file) =>
      file.endsWith('.ts'),
    )

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--quick', '--results-dir', resultsDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    assert.equal(code, 0, output)

    const files = await readdir(resultsDir)
    assert.equal(files.length, 1, files.join(', '))
    assert.match(files[0]!, /-quick\.json$/)
    const run = JSON.parse(await readFile(join(resultsDir, files[0]!), 'utf8')) as BenchRun
    assert.equal(run.mode, 'quick')
    assert.equal(run.benchmarks.length, benchmarkFiles.length, 'every file in bench/benchmarks ran')
    const ids = new Set<string>()
    for (const benchmark of run.benchmarks) {
      assert.ok(benchmark.results.length > 0, `${benchmark.name} reported nothing`)
      for (const result of benchmark.results) {
        assert.ok(Number.isFinite(result.value), `${result.id}: ${result.value}`)
        assert.ok(!ids.has(result.id), `${result.id} is reported twice`)
        ids.add(result.id)
      }
    }
    // a quick run never stands for the project in bench/README.md
    assert.equal(await readFile(README, 'utf8'), readmeBefore)
  },
)
