// Runs the test suite (the root package's `test:only` script) once on each Node.js named on the command line,
// one version after another, and closes with one TAP summary of every run:
//
//   node scripts/test-on-node.mjs current 22 24
//
// `current` is the Node.js running this script. A major version names one of the builds declared in
// scripts/node-runtimes/package.json, which this script installs there from that folder's lockfile when it is
// missing or out of date. A run gets its Node.js by finding it first on PATH, so the test runner, tsx, and
// every child process a test starts as `node` run on that version, as on a machine where it is the only one.
//
// Every run goes ahead even when an earlier one failed, so that one `npm test` tells which versions fail.

import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'

const repositoryRoot = path.resolve(import.meta.dirname, '..')
const runtimesFolder = path.join(repositoryRoot, 'scripts', 'node-runtimes')
const summaryKeys = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']
// Only the runner's own closing lines: at the start of a line, where a subtest's lines are indented.
const summaryLine = new RegExp(`^# (${summaryKeys.join('|')}) (\\d+(?:\\.\\d+)?)$`)
// How much of each failing test's details the closing recap repeats.
const FAILURE_DETAIL_LINES = 40

const requested = process.argv.slice(2)
if (requested.length === 0 || requested.some((name) => name !== 'current' && !/^\d+$/.test(name))) {
  console.error('usage: node scripts/test-on-node.mjs current|MAJOR [current|MAJOR …]   e.g. current 22 24')
  process.exit(2)
}

const runtimes = resolveRuntimes(requested)
const runs = []
let currentChild
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    currentChild?.kill(signal)
    process.exit(1)
  })
}

for (const runtime of runtimes) {
  if (!runtime.executable) {
    console.log(`# Node.js ${runtime.name}: skipped, ${runtime.unavailable}`)
    continue
  }
  runs.push(await runSuite(runtime))
}

const failedRuns = runs.filter((run) => !run.passed)
printFailures(runs)
if (runs.length > 1) printCombinedSummary(runs)
process.exit(failedRuns.length > 0 ? 1 : 0)

/** Where each requested Node.js is, installing the declared builds first when one is missing or stale. */
function resolveRuntimes(names) {
  const declared = JSON.parse(readFileSync(path.join(runtimesFolder, 'package.json'), 'utf8'))
  const builds = declared.optionalDependencies ?? {}
  const wanted = names.map((name) => {
    if (name === 'current') return { name: process.version, executable: process.execPath }
    const alias = `node-${name}`
    const spec = builds[alias]
    if (!spec) {
      const known = Object.keys(builds).map((key) => key.replace('node-', ''))
      console.error(
        `Node.js ${name} is not declared in scripts/node-runtimes/package.json (declared: ${known})`,
      )
      process.exit(2)
    }
    const packageFolder = path.join(runtimesFolder, 'node_modules', alias)
    return {
      name,
      packageName: spec.replace(/^npm:/, '').replace(/@[^@]*$/, ''),
      version: spec.replace(/^.*@/, ''),
      packageFolder,
      executable: path.join(packageFolder, 'bin', 'node'),
    }
  })

  const installedVersion = (runtime) => {
    const manifest = path.join(runtime.packageFolder, 'package.json')
    return existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : undefined
  }
  const stale = wanted.filter((runtime) => runtime.version && installedVersion(runtime) !== runtime.version)
  if (stale.length > 0) {
    console.error(`# installing Node.js ${stale.map((runtime) => runtime.version).join(', ')}`)
    npm(['ci', '--no-audit', '--no-fund', '--prefix', runtimesFolder], runtimesFolder)
  }

  for (const runtime of wanted) {
    if (!runtime.version) continue
    if (existsSync(runtime.executable) && installedVersion(runtime) === runtime.version) {
      runtime.name = execFileSync(runtime.executable, ['--version'], { encoding: 'utf8' }).trim()
    } else if (process.platform === 'linux' && process.arch === 'x64') {
      console.error(
        `Node.js ${runtime.version} did not install into ${path.relative('.', runtime.packageFolder)}`,
      )
      process.exit(1)
    } else {
      // The builds are optional dependencies limited to their platform: npm skips them anywhere else.
      runtime.unavailable = `${runtime.packageName} is built for linux-x64, not ${process.platform}-${process.arch}`
      runtime.executable = undefined
    }
  }
  return wanted
}

/** npm with the Node.js that runs this script, whatever a run puts first on PATH. */
function npm(args, cwd) {
  const cli = process.env.npm_execpath
  const [command, commandArgs] = cli ? [process.execPath, [cli, ...args]] : ['npm', args]
  // npm's own output goes to stderr, to keep stdout the test runner's TAP.
  const result = spawnSync(command, commandArgs, { cwd, stdio: ['ignore', 2, 2] })
  if (result.status !== 0) {
    console.error(`npm ${args.join(' ')} failed in ${path.relative('.', cwd) || '.'}`)
    process.exit(1)
  }
}

/** One run of `npm run test:only` with `runtime` first on PATH; its TAP output passes through unchanged. */
async function runSuite(runtime) {
  console.log(`# Node.js ${runtime.name}: npm run test:only`)
  const startedAt = Date.now()
  const env = {
    ...process.env,
    PATH: [path.dirname(runtime.executable), process.env.PATH].join(path.delimiter),
  }
  const cli = process.env.npm_execpath
  const [command, args] = cli ? [process.execPath, [cli, 'run', 'test:only']] : ['npm', ['run', 'test:only']]
  const child = spawn(command, args, { cwd: repositoryRoot, env, stdio: ['inherit', 'pipe', 'inherit'] })
  currentChild = child

  const summary = {}
  const failures = failureCollector()
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    process.stdout.write(`${line}\n`)
    const match = summaryLine.exec(line)
    if (match) summary[match[1]] = Number(match[2])
    failures.read(line)
  }
  failures.end()
  const exitCode = await new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 1)
    else child.once('close', (code) => resolve(code ?? 1))
  })
  currentChild = undefined

  const durationMs = Date.now() - startedAt
  const seconds = Math.round(durationMs / 1000)
  const counted = 'pass' in summary
  const passed = exitCode === 0 && counted && !summary.fail && !summary.cancelled
  const counts = counted
    ? `pass ${summary.pass}, fail ${summary.fail ?? 0}, cancelled ${summary.cancelled ?? 0}, skipped ${summary.skipped ?? 0}`
    : 'no summary from the test runner'
  console.log(
    `# Node.js ${runtime.name}: ${counts}, exit code ${exitCode}, ${Math.floor(seconds / 60)} min ${seconds % 60} s`,
  )
  return { runtime, summary, passed, durationMs, failures: failures.failures }
}

/**
 * Keeps each failing test's TAP block (`not ok` and the YAML under it) as the lines go by, named by its path
 * of suites: the conformance suite runs the same tests for every framework. Left out: a suite whose only fault
 * is a failing subtest (the subtest is the one to read), a test cancelled because its parent failed, and a
 * failing `# TODO`. (A function, not a class: the runs above start before a class declared down here would
 * exist.)
 */
function failureCollector() {
  const failures = []
  const suites = []
  let open
  const close = () => {
    const type = open.lines.find((detail) => detail.startsWith('failureType: '))
    const consequential = /'(subtestsFailed|cancelledByParent)'/.test(type ?? '')
    if (!consequential && !/ # TODO\b/.test(open.name)) failures.push(open)
    open = undefined
  }
  const read = (line) => {
    const start = /^(\s*)(?:# Subtest: |ok \d+ - |not ok \d+ - )/.exec(line)
    // a block without YAML ends where the next test at its depth or above begins
    if (open && start && start[1].length <= open.indent.length) close()
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line)
    if (subtest) {
      while (suites.length > 0 && suites.at(-1).indent >= subtest[1].length) suites.pop()
      suites.push({ indent: subtest[1].length, name: subtest[2] })
      return
    }
    const notOk = /^(\s*)not ok \d+ - (.*)$/.exec(line)
    if (notOk) {
      const path = suites.filter((suite) => suite.indent < notOk[1].length).map((suite) => suite.name)
      open = { indent: notOk[1], name: [...path, notOk[2]].join(' › '), lines: [] }
      return
    }
    if (!open) return
    if (line === `${open.indent}  ...`) close()
    else if (line !== `${open.indent}  ---`) open.lines.push(line.slice(open.indent.length + 2))
  }
  // a run that crashed may leave a block open
  const end = () => {
    if (open) close()
  }
  return { read, end, failures }
}

// A long run's output is often read from its end only: the failing tests come again at its end (before the
// totals of every run, when there are several).
function printFailures(allRuns) {
  for (const run of allRuns) {
    for (const failure of run.failures) {
      console.log(`# failed on Node.js ${run.runtime.name}: ${failure.name}`)
      const shown = failure.lines.slice(0, FAILURE_DETAIL_LINES)
      for (const detail of shown) console.log(`#   ${detail}`)
      if (failure.lines.length > shown.length) {
        console.log(`#   … ${failure.lines.length - shown.length} more lines above, in the run's output`)
      }
    }
  }
}

// A reader of TAP takes the last summary in the output as the result, which would be the last version's run
// alone: this one adds up every run, and counts a run that failed without a failing test (one that crashed,
// or that never reached the runner) as one failure.
function printCombinedSummary(allRuns) {
  const total = Object.fromEntries(summaryKeys.map((key) => [key, 0]))
  for (const run of allRuns) {
    for (const key of summaryKeys) total[key] += run.summary[key] ?? 0
    if (!run.passed && !run.summary.fail && !run.summary.cancelled) total.fail += 1
  }
  total.duration_ms = allRuns.reduce((sum, run) => sum + run.durationMs, 0)
  console.log(`# every run: Node.js ${allRuns.map((run) => run.runtime.name).join(', ')}`)
  for (const key of summaryKeys) console.log(`# ${key} ${total[key]}`)
}
