/** The load-overhead scenarios and handlers, shared by the server (bench/load/server.ts) and the benchmark. */
export const FRAMEWORKS = ['express', 'koa', 'fastify'] as const
export type Framework = (typeof FRAMEWORKS)[number]

export const HANDLERS = ['tiny', 'cpu'] as const
export type Handler = (typeof HANDLERS)[number]

export const SCENARIOS = [
  'bare',
  'bare-twin',
  'idle',
  'bare-and-idle',
  'attack',
  'attack-fresh',
  'cpu-capture',
  'cpu-capture-100us',
  'cpu-capture-1ms',
  'heap-capture',
  'peer',
] as const
export type Scenario = (typeof SCENARIOS)[number]

/**
 * `bare-and-idle` is one process serving three apps of the same framework: `bare` (no Tripwire), `empty` (one
 * middleware or hook that does nothing: what the framework charges for any) and `idle` (Tripwire, as in the
 * `idle` scenario), compared within one process, where its JIT and heap landed alike for all of them. Started
 * with `--parts`, it also serves Tripwire's work in parts, each from one middleware or hook of its own: `timing`
 * (the response timed for the latency tables, alone) and `header` (the trigger header looked for, and a token
 * refused, alone): see bench/parts.ts. Two controls with no Tripwire in them, each also one middleware or hook,
 * show what the least timing of a response costs: `listener` (one shared no-op function as the response's
 * `'close'` listener) and `clocks` (a closure reading the clock at the start and on `'close'`).
 * `GET /__bench/mode/<app>` points the requests after it at one app; `…/alternate/<app>/<app>` has two apps
 * take turns by blocks of requests, each block timed, and `…/report` answers the requests, milliseconds and
 * milliseconds of the process's CPU time each of the two served since (`AppShares`), and ends the turns.
 */
export const MODE_PATH = '/__bench/mode/'
export const MODES = ['bare', 'empty', 'idle', 'timing', 'header', 'listener', 'clocks'] as const
export type Mode = (typeof MODES)[number]
export const ALTERNATE = 'alternate'
export const REPORT = 'report'
/** One app's turns in an alternating load: its requests, and the time and the process's CPU time they took. */
export interface AppShare {
  requests: number
  ms: number
  cpuMs: number
}
export type AppShares = Partial<Record<Mode, AppShare>>

/** The process's CPU time per request an app served in its turns, in µs. */
export function cpuUsPerRequest(share: AppShare): number {
  return (1000 * share.cpuMs) / share.requests
}

/** Scenarios whose server has no Tripwire. */
export function withoutTripwire(scenario: Scenario): boolean {
  return scenario === 'bare' || scenario === 'bare-twin' || scenario === 'peer'
}

/** The attack traffic a scenario's load carries: one forged token replayed, or a fresh forged token each time. */
export function attackOf(scenario: Scenario): 'replayed' | 'fresh' | undefined {
  return scenario === 'attack' ? 'replayed' : scenario === 'attack-fresh' ? 'fresh' : undefined
}

/** The service name the server's Tripwire uses: a token's audience. */
export const SERVICE = 'bench-load'
/** The kid the server trusts; the attack token names it, but is signed with another secret. */
export const KID = 'bench'
/** The server's HMAC secret (≥ 32 bytes). Never sent: the attack token is signed with WRONG_SECRET. */
export const SECRET = 'bench-load-right-secret-0123456789abcdef'
export const WRONG_SECRET = 'bench-load-wrong-secret-0123456789abcdef'

/** The only route: GET /work. */
export const PATH = '/work'

/**
 * The CPU-bound handler's work: a fixed number of iterations of an LCG, in a named function so that it shows
 * in profiles. A fixed amount of work, not a fixed time: a time-based loop would hide the profiler's cost.
 * The benchmark calibrates the count to ~1 ms once, in its own process, and hands the same count to every
 * server.
 */
export function burnCpu(iterations: number): number {
  let x = 1
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0
  return x
}

export function isOneOf<T extends string>(values: readonly T[], value: string | undefined): value is T {
  return values.includes(value as T)
}
