/**
 * Runs one child-process scenario from test/scenarios/ (a plain .mjs against the BUILT packages) that prints
 * one JSON line: its result. Every child is killed, and its test failed, when it outlives its timeout.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SCENARIOS = join(ROOT, 'test', 'scenarios')

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** performance.now() when the child exited. */
  at: number
}

export interface Scenario {
  child: ChildProcess
  /** The first stdout line, parsed. Rejects if the child ends (or is killed on timeout) before printing it. */
  result<T>(): Promise<T>
  /** performance.now() when the first line arrived. */
  resultAt(): number
  /**
   * The stdout line at `index` (0 is the result), parsed: for scenarios that report in phases. Rejects like
   * `result()` when the child ends before printing it.
   */
  line<T>(index: number): Promise<T>
  /**
   * Resolves when the child has exited and its output is read; rejects when it exited with a non-zero code,
   * or had to be killed on timeout. A child ended by a signal resolves: some scenarios are about signals.
   */
  exited: Promise<Exit>
}

export interface ScenarioOptions {
  execArgv?: string[]
  /** @default 20000 */
  timeoutMs?: number
}

const running = new Set<ChildProcess>()

/** For afterEach: a test that failed must not leave its child running into the next one. */
export function killRunningScenarios(): void {
  for (const child of running) child.kill('SIGKILL')
}

export function runScenario(script: string, args: string[], options: ScenarioOptions = {}): Scenario {
  const { execArgv = [], timeoutMs = 20_000 } = options
  const child = spawn(process.execPath, [...execArgv, join(SCENARIOS, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  let lineAt = Number.NaN
  let timedOut = false
  // how the child ended, when it has: a silent exit by a signal (a crash) differs from one with a code
  const endedHow = (): string =>
    child.exitCode !== null || child.signalCode !== null
      ? ` (exit code ${child.exitCode}, signal ${child.signalCode})`
      : ''
  const describeChild = (): string =>
    `${script} ${args.join(' ')}${timedOut ? ` (killed after ${timeoutMs} ms)` : endedHow()}\n` +
    `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`

  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const end = stdout.indexOf('\n')
      if (end >= 0 && Number.isNaN(lineAt)) {
        lineAt = performance.now()
        resolve(stdout.slice(0, end))
      }
    })
    child.once('close', () =>
      reject(new Error(`the scenario ended without printing a result: ${describeChild()}`)),
    )
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))

  const lines: string[] = []
  const lineWaiters: { index: number; resolve: (line: string) => void; reject: (error: Error) => void }[] = []
  let linesEnded = false
  child.stdout?.on('data', () => {
    const complete = stdout.split('\n').slice(0, -1)
    lines.splice(0, lines.length, ...complete)
    for (const waiter of lineWaiters.filter(({ index }) => index < lines.length)) {
      lineWaiters.splice(lineWaiters.indexOf(waiter), 1)
      waiter.resolve(lines[waiter.index]!)
    }
  })
  const endedEarly = (index: number) =>
    new Error(
      `the scenario ended (code ${child.exitCode}, signal ${child.signalCode}) before printing line ${index}: ` +
        describeChild(),
    )
  child.once('close', () => {
    linesEnded = true
    for (const waiter of lineWaiters.splice(0)) waiter.reject(endedEarly(waiter.index))
  })
  const printedLine = (index: number): Promise<string> => {
    if (index < lines.length) return Promise.resolve(lines[index]!)
    if (linesEnded) return Promise.reject(endedEarly(index))
    return new Promise((resolve, reject) => lineWaiters.push({ index, resolve, reject }))
  }

  const exited = new Promise<Exit>((resolve, reject) => {
    let exit: Exit | undefined
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
      reject(new Error(`the scenario ran longer than ${timeoutMs} ms and was killed: ${describeChild()}`))
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('exit', (code, signal) => (exit = { code, signal, at: performance.now() }))
    child.once('close', () => {
      clearTimeout(timer)
      running.delete(child)
      if (exit !== undefined) resolve(exit)
    })
  })
  const checkedExit = exited.then((exit) => {
    if (exit.code !== 0 && exit.signal === null)
      assert.fail(`the scenario exited with ${exit.code}: ${describeChild()}`)
    return exit
  })
  // a test that fails early may never await these; their rejections must not surface as unhandled
  firstLine.catch(() => undefined)
  checkedExit.catch(() => undefined)

  return {
    child,
    result: async <T>() => JSON.parse(await firstLine) as T,
    resultAt: () => lineAt,
    line: async <T>(index: number) => JSON.parse(await printedLine(index)) as T,
    exited: checkedExit,
  }
}
