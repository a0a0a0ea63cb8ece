/**
 * One load-test server, in a process of its own:
 *
 *   node --import tsx bench/load/server.ts --framework express|koa|fastify \
 *     --scenario bare|bare-twin|idle|attack|attack-fresh|cpu-capture|cpu-capture-1ms|cpu-capture-100us|heap-capture|peer \
 *     --handler tiny|cpu [--cpu-iterations N] [--capture-ms MS] [--dir DIR] [--self-profile]
 *
 * It listens on 127.0.0.1:0 and prints `{"port":…,"pid":…}` as one JSON line once it is ready: for the capture
 * scenarios, once the capture is running (for `--capture-ms`, default 60 s, at most 300 s); for `peer`, once
 * @datadog/pprof's time profiler is. Captures are stored in `--dir` if they end (the benchmark kills the
 * server first, and removes the directory). It serves GET /work only (`bare-and-idle` also answers
 * GET /__bench/mode/…: see `MODE_PATH`). `--self-profile` starts a CPU capture of
 * the same length in a scenario that has none (`idle`, `attack`, `attack-fresh`), so that Tripwire profiles its own cost under
 * load (bench/self-profile.ts).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import {
  LocalDiskSink,
  type StartCaptureRequest,
  type TripwireController,
  type TripwireOptions,
} from '@tripwire/core'
import {
  ALTERNATE,
  type AppShares,
  burnCpu,
  FRAMEWORKS,
  HANDLERS,
  isOneOf,
  KID,
  MODE_PATH,
  MODES,
  PATH,
  REPORT,
  SCENARIOS,
  SECRET,
  SERVICE,
  type Framework,
  type Handler,
  type Mode,
  type Scenario,
  withoutTripwire,
} from './scenarios.js'

const MAX_CAPTURE_MS = 300_000

const { values } = parseArgs({
  options: {
    framework: { type: 'string' },
    scenario: { type: 'string' },
    handler: { type: 'string' },
    'cpu-iterations': { type: 'string', default: '100000' },
    'capture-ms': { type: 'string', default: '60000' },
    dir: { type: 'string', default: './profiles-bench' },
    'self-profile': { type: 'boolean', default: false },
  },
})
const { framework, scenario, handler } = values
if (
  !isOneOf(FRAMEWORKS, framework) ||
  !isOneOf(SCENARIOS, scenario) ||
  !isOneOf<Handler>(HANDLERS, handler)
) {
  console.error(
    `usage: server.ts --framework ${FRAMEWORKS.join('|')} --scenario ${SCENARIOS.join('|')} ` +
      `--handler ${HANDLERS.join('|')} [--cpu-iterations N] [--capture-ms MS] [--dir DIR] [--self-profile]`,
  )
  process.exit(2)
}
const iterations = Number(values['cpu-iterations'])
const captureMs = Math.min(MAX_CAPTURE_MS, Number(values['capture-ms']))

/** The response body: a constant for `tiny`, the burn's result for `cpu`. */
function work(): string {
  return handler === 'cpu' ? String(burnCpu(iterations)) : 'ok'
}

/** Tripwire's options in every scenario that installs it: keys (so the header is verified) and an SLO rule. */
function tripwireOptions(dir: string): TripwireOptions {
  return {
    service: SERVICE,
    keys: [{ kid: KID, secret: SECRET }],
    sink: new LocalDiskSink({ dir }),
    // Armed, and never fires: no request takes a minute
    slo: [{ route: `GET ${PATH}`, quantile: 0.99, thresholdMs: 60_000, windowMs: 10_000 }],
    limits: { maxDurationMs: MAX_CAPTURE_MS, capturesPerHour: 3600, cooldownMs: 0 },
  }
}

const installed = !withoutTripwire(scenario) && scenario !== 'bare-and-idle'

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void

/**
 * The app: its request handler, and Tripwire's controller when it has Tripwire. `empty` has one middleware (on
 * Fastify an `onRequest` hook) that does nothing but pass the request on: what any middleware costs.
 */
type AppKind = 'bare' | 'empty' | 'tripwire'

async function buildApp(
  framework: Framework,
  kind: AppKind,
  dir: string,
): Promise<{ handler: RequestHandler; controller: TripwireController | undefined }> {
  if (framework === 'express') {
    const { default: express } = await import('express')
    const app = express()
    let controller: TripwireController | undefined
    if (kind === 'tripwire') {
      const { tripwire } = await import('@tripwire/express')
      const middleware = tripwire(tripwireOptions(dir))
      controller = middleware.tripwire
      app.use(middleware)
    } else if (kind === 'empty') app.use((_req, _res, next) => next())
    app.get(PATH, (_req, res) => void res.send(work()))
    return { handler: app, controller }
  }
  if (framework === 'koa') {
    const { default: Koa } = await import('koa')
    const app = new Koa()
    let controller: TripwireController | undefined
    if (kind === 'tripwire') {
      const { tripwire } = await import('@tripwire/koa')
      const middleware = tripwire(tripwireOptions(dir))
      controller = middleware.tripwire
      app.use(middleware)
    } else if (kind === 'empty') app.use((_ctx, next) => next())
    app.use((ctx) => {
      if (ctx.method === 'GET' && ctx.path === PATH) ctx.body = work()
    })
    const callback = app.callback()
    return { handler: (req, res) => void callback(req, res), controller }
  }
  const { default: Fastify } = await import('fastify')
  // Fastify's own request handler, as its server would call it: the server made here never listens
  let fastifyHandler: RequestHandler | undefined
  const app = Fastify({
    logger: false,
    serverFactory: (handler) => {
      fastifyHandler = handler
      return http.createServer(handler)
    },
  })
  if (kind === 'tripwire') {
    const { tripwire } = await import('@tripwire/fastify')
    await app.register(tripwire, tripwireOptions(dir))
  } else if (kind === 'empty') app.addHook('onRequest', (_request, _reply, done) => done())
  app.get(PATH, async () => work())
  await app.ready()
  return { handler: fastifyHandler!, controller: kind === 'tripwire' ? app.tripwire : undefined }
}

async function listen(handler: RequestHandler): Promise<http.Server> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/**
 * Requests per turn when the two apps alternate: short enough that both meet the same moments of a noisy
 * machine (~40 ms of Fastify's load, ~200 ms of Express's), long beside the 16 requests in flight at a turn,
 * which are timed with the next one.
 */
const TURN_REQUESTS = 2048

/** One server, three apps (see `MODE_PATH`). */
async function listenBareAndIdle(framework: Framework, dir: string) {
  const apps: Record<Mode, RequestHandler> = {
    bare: (await buildApp(framework, 'bare', dir)).handler,
    empty: (await buildApp(framework, 'empty', dir)).handler,
    idle: (await buildApp(framework, 'tripwire', dir)).handler,
  }
  let serving: Mode = 'bare'
  let pair: [Mode, Mode] | undefined
  let inTurn = 0
  let turnStart = 0
  let shares: AppShares = {}
  const endTurn = (now: number) => {
    const share = (shares[serving] ??= { requests: 0, ms: 0 })
    share.requests += inTurn
    share.ms += now - turnStart
    inTurn = 0
    turnStart = now
  }
  const command = (name: string): string | undefined => {
    const [verb, first, second] = name.split('/')
    if (verb === ALTERNATE && isOneOf(MODES, first) && isOneOf(MODES, second) && first !== second) {
      shares = {}
      pair = [first, second]
      serving = first
      inTurn = 0
      turnStart = performance.now()
      return name
    }
    if (name === REPORT) {
      // the last turn, however short, counts too
      if (pair !== undefined) endTurn(performance.now())
      pair = undefined
      return JSON.stringify(shares)
    }
    if (!isOneOf(MODES, name)) return undefined
    pair = undefined
    serving = name
    return name
  }
  const server = await listen((req, res) => {
    const url = req.url ?? ''
    if (url.startsWith(MODE_PATH)) {
      const answer = command(url.slice(MODE_PATH.length))
      if (answer === undefined) {
        const modes = MODES.join('|')
        return void res.writeHead(400).end(`${modes}, ${ALTERNATE}/<${modes}>/<${modes}>, ${REPORT}`)
      }
      return void res.end(answer)
    }
    if (pair !== undefined && inTurn === TURN_REQUESTS) {
      endTurn(performance.now())
      serving = serving === pair[0] ? pair[1] : pair[0]
    }
    inTurn++
    apps[serving](req, res)
  })
  return { server, controller: undefined }
}

async function startProfiling(scenario: Scenario, controller: TripwireController | undefined): Promise<void> {
  const capture: Partial<Record<Scenario, StartCaptureRequest>> = {
    'cpu-capture': { kind: 'cpu', durationMs: captureMs },
    'cpu-capture-100us': { kind: 'cpu', durationMs: captureMs, samplingIntervalUs: 100 },
    'cpu-capture-1ms': { kind: 'cpu', durationMs: captureMs, samplingIntervalUs: 1000 },
    'heap-capture': { kind: 'heap', durationMs: captureMs },
  }
  const request =
    capture[scenario] ??
    (values['self-profile'] && installed ? { kind: 'cpu' as const, durationMs: captureMs } : undefined)
  if (request !== undefined) {
    if (controller === undefined) throw new Error(`${scenario} needs Tripwire installed`)
    await controller.start(request)
  } else if (scenario === 'peer') {
    const { time } = await import('@datadog/pprof')
    // Its defaults: a 1000 µs sampling interval (DEFAULT_INTERVAL_MICROS), as Tripwire's default
    time.start({})
  }
}

const { server, controller } =
  scenario === 'bare-and-idle'
    ? await listenBareAndIdle(framework, values.dir)
    : await buildApp(framework, installed ? 'tripwire' : 'bare', values.dir).then(
        async ({ handler, controller }) => ({
          server: await listen(handler),
          controller,
        }),
      )
await startProfiling(scenario, controller)
const { port } = server.address() as AddressInfo
console.log(JSON.stringify({ port, pid: process.pid }))
