// Shared by the scenario scripts, which run as plain `node` child processes of test/process-scenarios.test.ts.
import { once } from 'node:events'
import { createServer } from 'node:http'

/** Prints the scenario's result as one JSON line on stdout: the test reads nothing else. */
export function printResult(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

/** Keeps the CPU busy for `ms` milliseconds; the name is what the tests look for in a profile. */
export function tripwireScenarioBusyWork(ms) {
  const end = performance.now() + ms
  let x = 0
  while (performance.now() < end) x += Math.sqrt(x + 1)
  return x
}

/** Starts an HTTP server on 127.0.0.1 on a free port; `?work=<ms>` burns that much CPU before answering. */
export async function startServer() {
  const server = createServer((req, res) => {
    const work = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('work') ?? 0)
    if (work > 0) tripwireScenarioBusyWork(Math.min(work, 1000))
    res.setHeader('content-type', 'text/plain')
    res.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: server.address().port }
}

/** Awaits a promise that should reject: returns what the rejection looked like, or `{ rejected: false, value }`. */
export async function rejectionOf(promise) {
  try {
    return { rejected: false, value: await promise }
  } catch (error) {
    return { rejected: true, error, code: error?.code, message: String(error?.message ?? error) }
  }
}

/** A logger that keeps Tripwire's log lines in a list instead of printing them. */
export class MemoryLogger {
  lines = []
  debug = (message, fields) => this.lines.push({ level: 'debug', message, fields })
  info = (message, fields) => this.lines.push({ level: 'info', message, fields })
  warn = (message, fields) => this.lines.push({ level: 'warn', message, fields })
  error = (message, fields) => this.lines.push({ level: 'error', message, fields })
}
