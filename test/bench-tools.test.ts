/**
 * The benchmark's investigation tools, run briefly end to end so that they never rot: bench/parts.ts (the idle
 * cost part by part) and bench/self-profile.ts (Tripwire profiling itself under load). Nothing here judges a
 * figure, only that each is reported and finite.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RUN_TIMEOUT_MS = 120_000

/** Runs a bench script with tsx; its exit code and output. */
function runTool(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS - 5_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

test(
  'bench/parts.ts reports every part against bare, under forged tokens too',
  { timeout: RUN_TIMEOUT_MS },
  async () => {
    const { code, stdout, stderr } = await runTool('bench/parts.ts', [
      ...['--framework', 'koa', '--traffic', 'replayed', '--rounds', '2', '--seconds', '0.3'],
    ])
    assert.equal(code, 0, `${stdout}\n${stderr}`)
    assert.match(stdout, /^koa, tiny handler, replayed traffic: .*2 rounds of 0\.3 s per app/m)
    assert.equal(stdout.match(/^ {2}round \d+: /gm)?.length, 2, stdout)
    const range = String.raw`(-?\d+\.\d+) \((-?\d+\.\d+)–(-?\d+\.\d+)\)`
    for (const part of ['empty', 'listener', 'clocks', 'timing', 'header', 'idle']) {
      // the req/s ratio, then the CPU time added per request (which may be negative: a difference)
      const summary = new RegExp(`^ {2}${part} +${range} {2}${range} µs$`, 'm').exec(stdout)
      assert.ok(summary, `a summary line for ${part}:\n${stdout}`)
      const [median, min, max, cpu, cpuMin, cpuMax] = summary.slice(1).map(Number)
      assert.ok(min! > 0 && min! <= median! && median! <= max! && Number.isFinite(max), summary[0])
      assert.ok(cpuMin! <= cpu! && cpu! <= cpuMax! && Number.isFinite(cpuMin) && Number.isFinite(cpuMax))
    }
  },
)

test('bench/parts.ts refuses arguments it cannot use, saying what it takes', async () => {
  for (const args of [
    ['--framework', 'hapi'],
    ['--traffic', 'none'],
    ['--rounds', '0'],
    ['--seconds', '-1'],
    ['--seconds', '0'],
    ['--frames', '3'],
  ]) {
    const { code, stderr } = await runTool('bench/parts.ts', args)
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /^usage: bench\/parts\.ts /, args.join(' '))
  }
})

test(
  'bench/self-profile.ts loads a server with a capture running and prints its hottest functions',
  { timeout: RUN_TIMEOUT_MS },
  async () => {
    const { code, stdout, stderr } = await runTool('bench/self-profile.ts', [
      ...['--framework', 'koa', '--scenario', 'attack', '--seconds', '1', '--limit', '5'],
    ])
    assert.equal(code, 0, `${stdout}\n${stderr}`)
    assert.match(
      stdout,
      /^koa\/attack\/tiny: \d+ req\/s over 1 s \(p99 [\d.]+ ms\) with a CPU capture running$/m,
    )
    assert.match(stdout, /^CPU profile: [\d.]+ s sampled in \d+ samples$/m)
    const rows = stdout.match(/^ *\d+\.\d %  +\d+\.\d %  +[\d.]+  +[\d.]+ {2}\S/gm) ?? []
    assert.ok(rows.length >= 1 && rows.length <= 5, `1 to 5 function rows:\n${stdout}`)
  },
)
