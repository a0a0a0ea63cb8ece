// Tripwire takes CPU captures while another tool uses the same process's inspector:
//   session   another in-process inspector Session records its own CPU profile (an APM agent, a script),
//             once around Tripwire's capture and once inside it
//   cpu-prof  the process runs under --cpu-prof (the parent passes the flags and reads the file at exit)
//   debugger  a debugger is attached over the inspector's WebSocket (inspector.open), with the Runtime,
//             Debugger and Profiler domains enabled as DevTools does on attach, and records a CPU profile of
//             its own around Tripwire's capture
// Each part of the work runs in a function of its own, so that each profile can be checked for what it covers.
// Prints one line, then exits normally (so that --cpu-prof writes its file). argv: <sink dir> <mode>
import inspector from 'node:inspector'
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import {
  cpuProfileFacts,
  MemoryLogger,
  printResult,
  readAll,
  rejectionOf,
  tripwireScenarioBusyWork,
} from './lib.mjs'

const [dir, mode] = process.argv.slice(2)
const WORK_FUNCTIONS = ['beforeTripwireWork', 'duringTripwireWork', 'afterTripwireWork']

function beforeTripwireWork(ms) {
  return tripwireScenarioBusyWork(ms)
}
function duringTripwireWork(ms) {
  return tripwireScenarioBusyWork(ms)
}
function afterTripwireWork(ms) {
  return tripwireScenarioBusyWork(ms)
}

const logger = new MemoryLogger()
const tw = createTripwire({
  service: 'profiler-coexistence',
  sink: new LocalDiskSink({ dir }),
  limits: { cooldownMs: 0 },
  logger,
})

/** Takes a manual Tripwire capture around `work`; reports the refusal, or the stored profile's facts. */
async function tripwireCapture(work) {
  const started = await rejectionOf(tw.start({ kind: 'cpu' }))
  if (started.rejected) {
    await work()
    return { refused: { code: started.code, message: started.message } }
  }
  await work()
  const meta = await started.value.stop()
  const stored = await tw.get(meta.id)
  const body = stored === undefined ? undefined : await readAll(stored.body)
  return {
    status: meta.status,
    error: meta.error ?? null,
    profile: body === undefined ? null : cpuProfileFacts(JSON.parse(body.toString('utf8')), WORK_FUNCTIONS),
  }
}

function post(session, method, params) {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
  )
}

/** Another tool's own in-process profiler: started, then stopped when the tool decides. */
async function startOtherProfiler() {
  const session = new inspector.Session()
  session.connect()
  await post(session, 'Profiler.enable')
  await post(session, 'Profiler.setSamplingInterval', { interval: 500 })
  await post(session, 'Profiler.start')
  return async () => {
    const { profile } = await post(session, 'Profiler.stop')
    session.disconnect()
    return cpuProfileFacts(profile, WORK_FUNCTIONS)
  }
}

async function sessionMode() {
  // the other tool's profile spans Tripwire's whole capture
  const stopAround = await startOtherProfiler()
  beforeTripwireWork(60)
  const around = await tripwireCapture(async () => duringTripwireWork(80))
  afterTripwireWork(60)
  const aroundOther = await stopAround()

  // the other tool starts and stops inside Tripwire's capture
  let insideOther
  const inside = await tripwireCapture(async () => {
    beforeTripwireWork(40)
    const stopInside = await startOtherProfiler()
    duringTripwireWork(80)
    insideOther = await stopInside()
    afterTripwireWork(40)
  })
  return {
    around: { tripwire: around, other: aroundOther },
    inside: { tripwire: inside, other: insideOther },
  }
}

async function cpuProfMode() {
  beforeTripwireWork(80)
  const capture = await tripwireCapture(async () => duringTripwireWork(100))
  afterTripwireWork(80)
  return { capture, execArgv: process.execArgv }
}

/** A WebSocket client of the inspector, as DevTools is; commands are matched to answers by id. */
async function attachDebugger(url) {
  if (typeof WebSocket !== 'function') {
    throw new Error('no global WebSocket: run with --experimental-websocket on Node 20')
  }
  const socket = new WebSocket(url)
  const pending = new Map()
  let nextId = 1
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data))
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`))
    else waiter.resolve(message.result)
  })
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true })
  })
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { method, resolve, reject })
      socket.send(JSON.stringify({ id, method, params }))
    })
  /** Resolves once the connection is closed at both ends. */
  const close = () => {
    if (socket.readyState === WebSocket.CLOSED) return Promise.resolve()
    const closed = new Promise((resolve) => socket.addEventListener('close', resolve, { once: true }))
    socket.close()
    return closed
  }
  return { send, close }
}

async function debuggerMode() {
  inspector.open(0, '127.0.0.1')
  const url = inspector.url()
  let debuggerClient
  try {
    debuggerClient = await attachDebugger(url)
    for (const domain of ['Runtime', 'Debugger', 'Profiler']) await debuggerClient.send(`${domain}.enable`)
    // the debugger's user is recording a CPU profile of their own (DevTools' Performance panel)
    await debuggerClient.send('Profiler.start')
    beforeTripwireWork(40)
    const capture = await tripwireCapture(async () => duringTripwireWork(100))
    afterTripwireWork(40)
    const { profile } = await debuggerClient.send('Profiler.stop')
    // the debugger still answers after Tripwire's session came and went
    const evaluated = await debuggerClient.send('Runtime.evaluate', { expression: '6 * 7' })
    return {
      capture,
      debuggerProfile: cpuProfileFacts(profile, WORK_FUNCTIONS),
      debuggerUrl: url,
      evaluatedAfter: evaluated?.result?.value ?? null,
    }
  } finally {
    // Node itself crashes (SIGSEGV, on 20, 22 and 24, with or without Tripwire) when inspector.close() runs
    // while an in-process WebSocket client of the inspector is still disconnecting: close the client first.
    await debuggerClient?.close()
    inspector.close()
  }
}

const modes = { session: sessionMode, 'cpu-prof': cpuProfMode, debugger: debuggerMode }
if (!(mode in modes)) throw new Error(`unknown mode ${mode}`)
const result = await modes[mode]()
await tw.close()
printResult({ mode, ...result, counters: tw.status().counters })
