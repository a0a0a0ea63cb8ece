/**
 * One load-test server, in a process of its own:
 *
 *   node --import tsx bench/load/server.ts --framework express|koa|fastify \
 *     --scenario bare|bare-twin|idle|attack|attack-fresh|cpu-capture|cpu-capture-1ms|cpu-capture-100us|heap-capture|peer \
 *     --handler tiny|cpu [--cpu-iterations N] [--capture-ms MS] [--dir DIR] [--self-profile] [--parts]
 *
 * It listens on 127.0.0.1:0 and prints `{"port":…,"pid":…}` as one JSON line once it is ready: for the capture
 * scenarios, once the capture is running (for `--capture-ms`, default 60 s, at most 300 s); for `peer`, once
 * @datadog/pprof's time profiler is. Captures are stored in `--dir` if they end (the benchmark kills the
 * server first, and removes the directory). It serves GET /work only (`bare-and-idle` also answers
 * GET /__bench/mode/…: see `MODE_PATH`). `--self-profile` starts a CPU capture of
 * the same length in a scenario that has none (`idle`, `attack`, `attack-fresh`), so that Tripwire profiles its own cost under
 * load (bench/self-profile.ts). `--parts` has `bare-and-idle` serve Tripwire's work in parts too, and two
 * controls with no Tripwire in them (bench/parts.ts).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
// the clock Tripwire reads (the global `performance` is a lazy getter)
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import {
  createTripwire,
  LocalDiskSink,
  type AnswerHeaders,
  type AnswerHeadersOf,
  type RouteOf,
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
    parts: { type: 'boolean', default: false },
  },
})
const { framework, scenario, handler } = values
if (
  !isOneOf(FRAMEWORKS, framework) ||
  !isOneOf(SCENARIOS, scenario) ||
  !isOneOf<Handler>(HANDLERS, handler) ||
  (values.parts && scenario !== 'bare-and-idle')
) {
  console.error(
    `usage: server.ts --framework ${FRAMEWORKS.join('|')} --scenario ${SCENARIOS.join('|')} ` +
      `--handler ${HANDLERS.join('|')} [--cpu-iterations N] [--capture-ms MS] [--dir DIR] [--self-profile] ` +
      '[--parts (bare-and-idle only)]',
  )
  process.exit(2)
}
// The benchmark holds this pipe: when it is gone (it ended, or was killed), so is this server
process.stdin.on('end', () => process.exit(0)).resume()
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
 * Fastify an `onRequest` hook) that does nothing but pass the request on: what any middleware costs. `timing`
 * and `header` have one that does one part of what the adapter's does, through the controller as the adapter
 * calls it: the response timed for the latency tables, or the trigger header looked for (and a token
 * refused). `listener` and `clocks` have one that times the response the least it can be (`timingControl`).
 */
type AppKind = 'bare' | 'empty' | 'tripwire' | Part | Control
type Part = 'timing' | 'header'
type Control = 'listener' | 'clocks'

const isControl = (kind: AppKind): kind is Control => kind === 'listener' || kind === 'clocks'

/** The `clocks` control's result, kept so that the clock reads cannot be left out as unused. */
const clocksResult = { lastElapsedMs: 0 }
function ignoreClose(): void {}

/**
 * The least a response's timing can cost, with no Tripwire in it: one listener on `'close'`, the same function
 * for every response (`listener`), or a closure reading the clock at the start and on `'close'` (`clocks`).
 */
function timingControl(kind: Control): (res: http.ServerResponse) => void {
  if (kind === 'listener') return (res) => void res.on('close', ignoreClose)
  return (res) => {
    const startedMs = performance.now()
    res.on('close', () => {
      clocksResult.lastElapsedMs = performance.now() - startedMs
    })
  }
}

/** One part of what an adapter does per request, through a controller of its own, called as the adapter calls it. */
function tripwirePart(kind: Part, dir: string) {
  const controller = createTripwire(tripwireOptions(dir))
  return {
    controller,
    /** Times the response (`timing`), or looks for the header and refuses a forged token (`header`). */
    run<Context>(
      req: http.IncomingMessage,
      res: http.ServerResponse,
      routeOf: RouteOf<Context>,
      context: Context,
      refusalOf?: AnswerHeadersOf<Context>,
    ): void {
      if (kind === 'timing') controller.responseTiming.start(req, res, routeOf, context)
      else if (controller.headerTrigger.beforeRequest(req, res, routeOf, context, refusalOf) !== undefined) {
        throw new Error('the benchmark sends no valid token')
      }
    },
  }
}

/** Answers a refused token in Fastify's reply, as the plugin does (a class: see the plugin's `ReplyHeaders`). */
class FastifyReplyHeaders implements AnswerHeaders {
  constructor(
    private readonly reply: { raw: http.ServerResponse; header(name: string, value: string): unknown },
  ) {}

  get headersSent(): boolean {
    return this.reply.raw.headersSent
  }

  setHeader(name: string, value: string): void {
    this.reply.header(name, value)
  }
}

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
    else if (isControl(kind)) {
      const control = timingControl(kind)
      app.use((_req, res, next) => {
        control(res)
        next()
      })
    } else if (kind !== 'bare') {
      const part = tripwirePart(kind, dir)
      const routeOf = (req: { route?: { path?: unknown } }): string | undefined =>
        typeof req.route?.path === 'string' ? req.route.path : undefined
      app.use((req, res, next) => {
        part.run(req, res, routeOf, req)
        next()
      })
      controller = part.controller
    }
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
    else if (isControl(kind)) {
      const control = timingControl(kind)
      app.use((ctx, next) => {
        control(ctx.res)
        return next()
      })
    } else if (kind !== 'bare') {
      const part = tripwirePart(kind, dir)
      const routeOf = (ctx: object): string | undefined => {
        const route: unknown = (ctx as { _matchedRoute?: unknown })._matchedRoute
        return typeof route === 'string' ? route : undefined
      }
      app.use((ctx, next) => {
        part.run(ctx.req, ctx.res, routeOf, ctx)
        return next()
      })
      controller = part.controller
    }
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
  else if (isControl(kind)) {
    const control = timingControl(kind)
    app.addHook('onRequest', (_request, reply, done) => {
      control(reply.raw)
      done()
    })
  }
  let partController: TripwireController | undefined
  if (kind === 'timing' || kind === 'header') {
    const part = tripwirePart(kind, dir)
    // as the plugin does: timed against the route's config, a refused token answered in the reply
    const configUrl = (config: { url?: string }): string | undefined => config.url
    const routeUrl = (reply: { request: { routeOptions: { url?: string | undefined } } }) =>
      reply.request.routeOptions.url
    const refusalHeaders = (reply: ConstructorParameters<typeof FastifyReplyHeaders>[0]) =>
      new FastifyReplyHeaders(reply)
    app.addHook('onRequest', (request, reply, done) => {
      if (kind === 'timing') part.run(request.raw, reply.raw, configUrl, request.routeOptions.config)
      else part.run(request.raw, reply.raw, routeUrl, reply, refusalHeaders)
      done()
    })
    partController = part.controller
  }
  app.get(PATH, async () => work())
  await app.ready()
  return { handler: fastifyHandler!, controller: kind === 'tripwire' ? app.tripwire : partController }
}

async function listen(handler: RequestHandler): Promise<http.Server> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/**
 * Requests per turn when the two apps alternate: short enough that both meet the same moments of a noisy
 * machine (on the tiny handler ~40 ms of Fastify's load, ~200 ms of Express's; on the ~1 ms handler ~70 ms).
 * A request's own work runs when it is handed to its app, within its turn; what its answer leaves for later
 * ticks (the write, `'close'`) falls into the next turn for the ≤ 16 requests in flight at a switch: a few
 * µs each, under 1 % of a turn either way.
 */
const TURN_REQUESTS = handler === 'cpu' ? 64 : 2048

/** The process's CPU time so far (all threads, user and system), in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** One server, three apps, or seven with `parts` (see `MODE_PATH`). */
async function listenBareAndIdle(framework: Framework, dir: string, parts: boolean) {
  const apps: Partial<Record<Mode, RequestHandler>> = {
    bare: (await buildApp(framework, 'bare', dir)).handler,
    empty: (await buildApp(framework, 'empty', dir)).handler,
    idle: (await buildApp(framework, 'tripwire', dir)).handler,
  }
  if (parts) {
    for (const kind of ['timing', 'header', 'listener', 'clocks'] as const) {
      apps[kind] = (await buildApp(framework, kind, dir)).handler
    }
  }
  const served = (mode: string): mode is Mode => isOneOf(MODES, mode) && apps[mode] !== undefined
  let serving: Mode = 'bare'
  let pair: [Mode, Mode] | undefined
  let inTurn = 0
  let turnStart = 0
  let turnCpuStart = 0
  let shares: AppShares = {}
  const endTurn = (now: number) => {
    const cpuNow = cpuMs()
    const share = (shares[serving] ??= { requests: 0, ms: 0, cpuMs: 0 })
    share.requests += inTurn
    share.ms += now - turnStart
    share.cpuMs += cpuNow - turnCpuStart
    inTurn = 0
    turnStart = now
    turnCpuStart = cpuNow
  }
  const command = (name: string): string | undefined => {
    const [verb, first = '', second = ''] = name.split('/')
    if (verb === ALTERNATE && served(first) && served(second) && first !== second) {
      shares = {}
      pair = [first, second]
      serving = first
      inTurn = 0
      turnStart = performance.now()
      turnCpuStart = cpuMs()
      return name
    }
    if (name === REPORT) {
      // the last turn, however short, counts too
      if (pair !== undefined) endTurn(performance.now())
      pair = undefined
      return JSON.stringify(shares)
    }
    if (!served(name)) return undefined
    pair = undefined
    serving = name
    return name
  }
  const server = await listen((req, res) => {
    const url = req.url ?? ''
    if (url.startsWith(MODE_PATH)) {
      const answer = command(url.slice(MODE_PATH.length))
      if (answer === undefined) {
        const modes = MODES.filter(served).join('|')
        return void res.writeHead(400).end(`${modes}, ${ALTERNATE}/<${modes}>/<${modes}>, ${REPORT}`)
      }
      return void res.end(answer)
    }
    if (pair !== undefined && inTurn === TURN_REQUESTS) {
      endTurn(performance.now())
      serving = serving === pair[0] ? pair[1] : pair[0]
    }
    inTurn++
    apps[serving]!(req, res)
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
    ? await listenBareAndIdle(framework, values.dir, values.parts)
    : await buildApp(framework, installed ? 'tripwire' : 'bare', values.dir).then(
        async ({ handler, controller }) => ({
          server: await listen(handler),
          controller,
        }),
      )
await startProfiling(scenario, controller)
const { port } = server.address() as AddressInfo
console.log(JSON.stringify({ port, pid: process.pid }))
