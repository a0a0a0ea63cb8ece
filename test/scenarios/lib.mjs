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

/**
 * What a CPU profile says about itself: whether it is well formed (nodes, one time delta per sample, every
 * sample naming a node) and, for each of `functionNames`, how many samples had it anywhere on the stack. On
 * the stack rather than at the leaf: a frame's self time can land on the function it calls, or (for a loop
 * compiled before the profiler started) on its caller.
 */
export function cpuProfileFacts(profile, functionNames) {
  const nodes = Array.isArray(profile?.nodes) ? profile.nodes : []
  const samples = Array.isArray(profile?.samples) ? profile.samples : []
  const byId = new Map(nodes.map((node) => [node.id, node]))
  const parentOf = new Map()
  for (const node of nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const onStack = Object.fromEntries(functionNames.map((name) => [name, 0]))
  for (const sample of samples) {
    const seen = new Set()
    // bounded by the tree's size, so a malformed profile with a cycle cannot loop forever
    for (
      let id = sample, depth = 0;
      id !== undefined && depth <= nodes.length;
      id = parentOf.get(id), depth++
    ) {
      const name = byId.get(id)?.callFrame?.functionName
      if (name !== undefined && Object.hasOwn(onStack, name)) seen.add(name)
    }
    for (const name of seen) onStack[name]++
  }
  const wellFormed =
    nodes.length > 0 &&
    samples.length > 0 &&
    profile.timeDeltas?.length === samples.length &&
    samples.every((id) => byId.has(id)) &&
    profile.endTime >= profile.startTime
  return { nodes: nodes.length, samples: samples.length, wellFormed, onStack }
}

/** Reads a stream to its end. */
export async function readAll(stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Polls `condition` every 20 ms until it holds; throws, naming `what`, after `timeoutMs`. */
export async function waitUntil(what, condition, timeoutMs = 15_000) {
  const end = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * The S3 client settings of the scenarios' local S3-compatible store: path-style, test credentials, and one
 * attempt, so that an unreachable store fails fast and the sink's own retry is what is under test.
 */
export function localS3ClientConfig(endpoint) {
  return {
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'tripwire-test', secretAccessKey: 'tripwire-test-secret' },
    maxAttempts: 1,
  }
}
